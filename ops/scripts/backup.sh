#!/usr/bin/env bash
# Online backup of a running stack into one folder DIR/orchestrator-YYYYmmddTHHMMSSZ/:
#   postgres.dump  pg_dump -Fc of the orchestrator database (one consistent snapshot)
#   redis.rdb      a fresh Redis snapshot (skipped with a note when the stack has no redis)
#   config.tar.gz  ops/env, ops/config, ops/docker-compose*.yml, ops/monitoring (never ops/secrets)
#   MANIFEST       time, env, images, PostgreSQL version, rows per table, size and sha256 of each file
# The backup is written under a temporary name, verified (pg_restore --list; the
# rdb's header, and redis-check-rdb in a throwaway container of the redis image;
# sha256 read back) and only then renamed; one that fails verification is kept
# as *.failed and the exit status is 1. Then complete backups older than
# --keep-days are deleted (never the new one; *.failed ones are left alone).
# Prints the backup's path as the last line on stdout; progress goes to stderr.
# Usage: backup.sh [--env ENV] [--dir DIR] [--keep-days N] [--help]
#   --env ENV        development|production (default ORCH_ENV or development)
#   --dir DIR        where backups go (default BACKUP_DIR or ./backups)
#   --keep-days N    retention in days (default BACKUP_KEEP_DAYS or 14; 0 keeps all)
# Exit: 0 written and verified, 1 failed, 2 bad arguments.
set -euo pipefail
# shellcheck source=ops/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ops/scripts/lib/datastores.sh
. "$(dirname "$0")/lib/datastores.sh"

env_name=${ORCH_ENV:-development}
dir=${BACKUP_DIR:-./backups}
keep_days=${BACKUP_KEEP_DAYS:-14}
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      print_help 2 17
      exit 0
      ;;
    --env | --dir | --keep-days)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
      case "$1" in
        --env) env_name=$2 ;;
        --dir) dir=$2 ;;
        --keep-days) keep_days=$2 ;;
      esac
      shift 2
      ;;
    --env=* | --dir=* | --keep-days=*)
      val=${1#*=}
      [ -n "$val" ] || usage_error "${1%%=*} needs a value"
      case "$1" in
        --env=*) env_name=$val ;;
        --dir=*) dir=$val ;;
        --keep-days=*) keep_days=$val ;;
      esac
      shift
      ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
case "$env_name" in
  development | production) ;;
  *) usage_error "unknown environment '$env_name' (development or production)" ;;
esac
[[ "$keep_days" =~ ^[0-9]+$ ]] || usage_error "--keep-days must be a whole number of days (0 keeps every backup)"

select_env "$env_name"
[ -f "$COMPOSE_FILE_PATH" ] || die "no compose file for '$ORCH_ENV': $COMPOSE_FILE_PATH"
command -v sha256sum >/dev/null || die "sha256sum is required"

running() { awk -v s="$1" '$1 == s && $2 == "true" { found = 1 } END { exit !found }' <<<"$containers"; }

services=$(dc config --services) || die "compose cannot read $COMPOSE_FILE_PATH"
containers=$(stack_containers) || die "cannot list the stack's containers"
grep -qx postgres <<<"$services" || die "the $ORCH_ENV stack has no postgres service"
running postgres || die "postgres is not running (start the stack: the backup is taken online)"
has_redis=false
if grep -qx redis <<<"$services"; then
  running redis || die "redis is defined in the $ORCH_ENV stack but not running"
  has_redis=true
fi

mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
name=orchestrator-$stamp
final=$dir/$name
[ ! -e "$final" ] || die "$final exists already (one backup a second at most)"
# A dot and .partial: never taken for a complete backup by restore or retention.
work=$dir/.$name.partial
mkdir "$work" || die "cannot create $work"
errlog=$(mktemp)
done_ok=false
# shellcheck disable=SC2317  # called by the EXIT trap
on_exit() {
  rm -f "$errlog"
  if [ "$done_ok" = false ] && [ -d "$work" ]; then
    mv "$work" "$final.failed" 2>/dev/null && log "incomplete backup kept as $final.failed"
  fi
}
trap on_exit EXIT
start_s=$SECONDS
log "backing up the $ORCH_ENV stack (compose project ${COMPOSE_PROJECT_NAME:-default}) into $final"

# PostgreSQL: one consistent snapshot, taken while the stack runs.
# shellcheck disable=SC2016
pg_sh 'exec pg_dump -U "$u" -d "$d" -Fc' >"$work/postgres.dump" 2>"$errlog" ||
  die "pg_dump failed: $(cat "$errlog")"
# The server's version and the last migration applied: MANIFEST lines.
pg_facts=$(psql_q "SELECT 'postgres_version: ' || current_setting('server_version');
SELECT 'schema_version: ' || CASE WHEN to_regclass('public.schema_migrations') IS NULL THEN '0'
  ELSE (xpath('/row/v/text()', query_to_xml('SELECT coalesce(max(version), 0) AS v FROM public.schema_migrations', false, true, '')))[1]::text END") ||
  die "cannot ask PostgreSQL its version"

# Redis: a fresh snapshot made by the server itself (BGSAVE, retried while
# another save or an AOF rewrite runs, then polled until done and checked with
# LASTSAVE), streamed out of its data folder. Redis replaces the file by a
# rename, so a later save cannot tear the copy being read.
redis_keys=
if [ "$has_redis" = true ]; then
  # shellcheck disable=SC2016
  redis_sh 'cli() { redis-cli --raw "$@"; }
    dir=$(cli CONFIG GET dir | sed -n 2p); file=$(cli CONFIG GET dbfilename | sed -n 2p)
    if [ -z "$dir" ] || [ -z "$file" ]; then echo "CONFIG GET dir/dbfilename refused" >&2; exit 1; fi
    t0=$(cli TIME | head -1); i=0
    until out=$(cli BGSAVE 2>&1) && case "$out" in *started*) true ;; *) false ;; esac; do
      i=$((i + 1)); if [ "$i" -ge 600 ]; then echo "BGSAVE refused: $out" >&2; exit 1; fi; sleep 0.5
    done
    i=0
    while cli INFO persistence | grep -q "^rdb_bgsave_in_progress:1"; do
      i=$((i + 1)); if [ "$i" -ge 3600 ]; then echo "BGSAVE still running after 30 min" >&2; exit 1; fi; sleep 0.5
    done
    if ! cli INFO persistence | grep -q "^rdb_last_bgsave_status:ok"; then echo "BGSAVE failed (see the redis log)" >&2; exit 1; fi
    last=$(cli LASTSAVE)
    if [ "$last" -lt "$t0" ]; then echo "LASTSAVE $last is older than the BGSAVE of $t0" >&2; exit 1; fi
    exec cat "$dir/$file"' \
    >"$work/redis.rdb" 2>"$errlog" || die "redis snapshot failed: $(cat "$errlog")"
fi

# Configuration: what an operator needs to rebuild the stack, never the secrets.
config_paths=()
for p in ops/env ops/config ops/monitoring; do
  [ -e "$ROOT_DIR/$p" ] && config_paths+=("$p")
done
for p in "$ROOT_DIR"/ops/docker-compose*.yml "$ROOT_DIR"/ops/docker-compose*.yaml; do
  [ -e "$p" ] && config_paths+=("ops/${p##*/}")
done
[ "${#config_paths[@]}" -gt 0 ] || die "no configuration found under $ROOT_DIR/ops"
tar -C "$ROOT_DIR" --exclude=ops/secrets --exclude='*.partial' -czf "$work/config.tar.gz" "${config_paths[@]}" 2>"$errlog" ||
  die "cannot archive the configuration: $(cat "$errlog")"

# --- verification (a backup that fails it is kept as *.failed, exit 1) ---
verify_failed() {
  log "VERIFICATION FAILED: $*"
  mv "$work" "$final.failed"
  log "the unverified backup is kept as $final.failed"
  done_ok=true # nothing left for the trap to move
  exit 1
}
# shellcheck disable=SC2016
toc=$(pg_sh 'exec pg_restore --list' <"$work/postgres.dump" 2>"$errlog") ||
  verify_failed "pg_restore --list cannot read postgres.dump: $(cat "$errlog")"
grep -q ' TABLE DATA ' <<<"$toc" || verify_failed "postgres.dump holds no table data"
# Every data block read back (decompressed) and its rows counted: the rows
# per table of the dump itself (COPY text has one row a line), which
# restore.sh checks the restored database against.
# shellcheck disable=SC2016
rows=$(pg_sh '{ pg_restore --data-only -f - || echo "pg_restore failed"; } | awk '"'"'
    copying && /^\\\.$/ { print "rows: " table " " n; copying = 0; next }
    copying { n++; next }
    /^COPY / { table = $2; sub(/^public\./, "", table); n = 0; copying = 1; next }
    /^pg_restore failed$/ { failed = 1 }
    END { exit failed || copying }'"'" <"$work/postgres.dump" 2>"$errlog") ||
  verify_failed "postgres.dump cannot be read whole: $(cat "$errlog")"
[ "$(grep -c '^rows: ' <<<"$rows")" -eq "$(grep -c ' TABLE DATA ' <<<"$toc")" ] ||
  verify_failed "postgres.dump: $(grep -c ' TABLE DATA ' <<<"$toc") tables in its list, $(grep -c '^rows: ' <<<"$rows") read back"
rows=$(sort <<<"$rows")
if [ "$has_redis" = true ]; then
  [ "$(head -c 5 "$work/redis.rdb")" = REDIS ] || verify_failed "redis.rdb does not start with REDIS"
  # redis-check-rdb (shipped with redis-server) reads it whole and counts its
  # keys, in a throwaway container of the redis service's image (no network):
  # the live container may have a read-only root and a small /tmp.
  redis_image=$(awk '$1 == "redis" && $2 == "true" { print $5; exit }' <<<"$containers")
  # shellcheck disable=SC2016
  if check=$(docker run --rm -i --network none --entrypoint sh "$redis_image" \
    -c 'command -v redis-check-rdb >/dev/null || exit 3; f=$(mktemp) || exit 1; cat >"$f"; redis-check-rdb "$f"; rc=$?; rm -f "$f"; exit $rc' \
    <"$work/redis.rdb" 2>&1); then
    redis_keys=$(sed -n 's/^\[info\] \([0-9]*\) keys read.*/\1/p' <<<"$check" | tail -1)
  else
    rc=$?
    if [ "$rc" -eq 3 ]; then
      log "note: no redis-check-rdb in the redis image; the rdb's header was checked only"
    else
      verify_failed "redis-check-rdb rejects redis.rdb: $(tail -3 <<<"$check")"
    fi
  fi
fi

# The images each service runs (several ids for one service: mid-rollout).
images=$(awk -v want="${ORCH_SERVICES[*]} postgres redis" \
  'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 } keep[$1] { print "image: " $1, $4, $5 }' \
  <<<"$containers" | sort -u)

{
  echo "# Orchestrator backup; restore with ops/scripts/restore.sh $name"
  echo "format: 1"
  echo "name: $name"
  echo "started: $stamp"
  echo "written: $(date -u +%Y%m%dT%H%M%SZ)"
  echo "env: $ORCH_ENV"
  echo "compose_file: ${COMPOSE_FILE_PATH#"$ROOT_DIR"/}"
  echo "compose_project: ${COMPOSE_PROJECT_NAME:-}"
  echo "host: $(hostname)"
  echo "$pg_facts"
  echo "$rows"
  echo "$images"
  if [ "$has_redis" = true ]; then
    echo "redis_keys: ${redis_keys:-unknown}"
  else
    echo "redis: skipped (the $ORCH_ENV stack has no redis service)"
  fi
  echo "config: ${config_paths[*]}"
  echo "secrets: NOT included: ops/secrets is never backed up; restore it from where the secrets are kept"
  for f in postgres.dump redis.rdb config.tar.gz; do
    [ -f "$work/$f" ] || continue
    echo "file: $f $(stat -c %s "$work/$f") $(sha256sum "$work/$f" | cut -d' ' -f1)"
  done
} >"$work/MANIFEST"

# The sums read back from disk must match the manifest.
while read -r _ f size sum; do
  [ "$(stat -c %s "$work/$f")" = "$size" ] || verify_failed "$f: size differs from the manifest"
  [ "$(sha256sum "$work/$f" | cut -d' ' -f1)" = "$sum" ] || verify_failed "$f: sha256 differs from the manifest"
done < <(grep '^file: ' "$work/MANIFEST")

sync "$work" 2>/dev/null || sync
mv "$work" "$final"
done_ok=true
log "backup complete in $((SECONDS - start_s)) s: $(du -sh "$final" | cut -f1) ($(grep -c '^file: ' "$final/MANIFEST") files, $(grep -c ' TABLE DATA ' <<<"$toc") tables)"

# Retention: complete backups (a MANIFEST, a name of the form we write) whose
# time stamp is older than N days; never the one just written.
if [ "$keep_days" -gt 0 ]; then
  cutoff=$(date -u -d "-$keep_days days" +%Y%m%dT%H%M%SZ)
  for old in "$dir"/orchestrator-*; do
    [ -d "$old" ] || continue
    base=${old##*/}
    [[ "$base" =~ ^orchestrator-[0-9]{8}T[0-9]{6}Z$ ]] || continue
    if [ "$base" = "$name" ] || [ ! -f "$old/MANIFEST" ]; then continue; fi
    if [[ "${base#orchestrator-}" < "$cutoff" ]]; then
      rm -rf -- "$old"
      log "retention: deleted $base (older than $keep_days days)"
    fi
  done
fi

echo "$final"
