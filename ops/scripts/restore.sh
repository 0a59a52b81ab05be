#!/usr/bin/env bash
# Restores a backup written by backup.sh into a stack, part by part or whole.
#   postgres  pg_restore --clean --if-exists --no-owner, one transaction (a failed
#             restore changes nothing), then every table's rows checked against
#             the MANIFEST; refused when tasks, schedules or runs hold a row
#             (unless --force), or when the target has tables the backup lacks
#   redis     the rdb copied into redis's data folder while redis is stopped;
#             with AOF on, the previous AOF is moved aside (*.pre-restore-TIME)
#             and the rdb becomes the base of a new one; refused when redis holds
#             keys, unless --force
#   config    extracted into a new folder, printed on stdout, for the operator
#             to diff; copied over the live ops/ files only with --force (the
#             live ones are saved in that folder first)
#   full      all three (the default); redis is skipped when the backup or the
#             stack has none
# Before anything changes: the MANIFEST and the sha256 of every file are checked.
# The orchestrator services (api scheduler worker) are stopped before a
# postgres or redis restore and started again after it (also after a failure,
# unless the restored database does not match the backup), then
# ops/scripts/health-check.sh is polled against API_URL (default: the
# development api on http://127.0.0.1:${API_PORT:-8080}, production's nginx on
# http://127.0.0.1:${NGINX_HTTP_PORT:-80}) for at most HEALTH_TIMEOUT seconds
# (default 180).
# Usage: restore.sh BACKUP [postgres|redis|config|full] [--env ENV] [--force] [--help]
#   BACKUP       a folder written by backup.sh (DIR/orchestrator-YYYYmmddTHHMMSSZ)
#   --env ENV    development|production (default ORCH_ENV or development)
#   --force      overwrite a non-empty database or redis, and the live config;
#                restore a backup of another environment
# Exit: 0 restored and healthy, 1 failed or refused, 2 bad arguments (also a
# BACKUP path that does not exist).
set -euo pipefail
# shellcheck source=ops/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ops/scripts/lib/datastores.sh
. "$(dirname "$0")/lib/datastores.sh"

env_name=${ORCH_ENV:-development}
force=false
backup=
part=
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      print_help 2 30
      exit 0
      ;;
    --env)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "--env needs a value"; fi
      env_name=$2
      shift 2
      ;;
    --env=*)
      env_name=${1#*=}
      shift
      ;;
    --force)
      force=true
      shift
      ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      if [ -z "$backup" ]; then
        backup=$1
      elif [ -z "$part" ]; then
        part=$1
      else
        usage_error "unexpected argument '$1'"
      fi
      shift
      ;;
  esac
done
part=${part:-full}
case "$part" in
  postgres | redis | config | full) ;;
  *) usage_error "unknown part '$part' (postgres, redis, config or full)" ;;
esac
case "$env_name" in
  development | production) ;;
  *) usage_error "unknown environment '$env_name' (development or production)" ;;
esac
[ -n "$backup" ] || usage_error "which backup? (a folder written by backup.sh)"
[ -d "$backup" ] || usage_error "no backup folder at '$backup'"
backup=$(cd "$backup" && pwd)
name=${backup##*/}

select_env "$env_name"
[ -f "$COMPOSE_FILE_PATH" ] || die "no compose file for '$ORCH_ENV': $COMPOSE_FILE_PATH"

# --- the backup itself: MANIFEST and every file's size and sha256 ---
manifest=$backup/MANIFEST
[ -f "$manifest" ] || die "$backup has no MANIFEST: not a complete backup (a *.failed or partial one?)"
grep -qx 'format: 1' "$manifest" || die "$manifest: unknown format (expected 'format: 1')"
grep -q '^file: ' "$manifest" || die "$manifest lists no files"
declare -A listed=()
while read -r _ f size sum; do
  [[ "$f" =~ ^[A-Za-z0-9._-]+$ ]] || die "$manifest: bad file name '$f'"
  [ -f "$backup/$f" ] || die "$f is listed in the MANIFEST but missing from $backup"
  [ "$(stat -c %s "$backup/$f")" = "$size" ] || die "$f: size differs from the MANIFEST: the backup is damaged; nothing was changed"
  [ "$(sha256sum "$backup/$f" | cut -d' ' -f1)" = "$sum" ] ||
    die "$f: sha256 mismatch with the MANIFEST: the backup is damaged; nothing was changed"
  listed[$f]=1
done < <(grep '^file: ' "$manifest")
manifest_value() { sed -n "s/^$1: //p" "$manifest" | head -1; }
backup_env=$(manifest_value env)
if [ "$backup_env" != "$ORCH_ENV" ]; then
  [ "$force" = true ] || die "$name is a backup of '$backup_env', not '$ORCH_ENV' (--force to restore it anyway)"
  log "note: restoring a backup of '$backup_env' into '$ORCH_ENV' (--force)"
fi
log "backup $name verified: $(grep -c '^file: ' "$manifest") files, sha256 ok (written $(manifest_value written), env $backup_env, PostgreSQL $(manifest_value postgres_version))"

rcli() { redis_sh 'exec redis-cli --raw "$@"' redis-cli "$@"; }

running_ids() { awk -v s="$1" '$1 == s && $2 == "true" { print $3 }' <<<"$containers"; }
# shellcheck disable=SC2016
pg_ready() { pg_sh 'pg_isready -q -U "$u" -d "$d"' 2>/dev/null; }
redis_ready() { [ "$(rcli PING 2>/dev/null)" = PONG ]; }
# Starts service $1 if it is not running and waits for $2 (a readiness test).
ensure_up() {
  [ -z "$(running_ids "$1")" ] || return 0
  log "$1 is not running: starting it"
  dc up -d --no-recreate --no-build "$1" >/dev/null 2>&1 || die "cannot start $1"
  poll 120 "$2" || die "$1 is not ready after 120 s"
  containers=$(stack_containers) || die "cannot list the stack's containers"
}

services=$(dc config --services) || die "compose cannot read $COMPOSE_FILE_PATH"
containers=$(stack_containers) || die "cannot list the stack's containers"
do_pg=false do_redis=false do_config=false
case "$part" in
  postgres) do_pg=true ;;
  redis) do_redis=true ;;
  config) do_config=true ;;
  full) do_pg=true do_redis=true do_config=true ;;
esac
if [ "$do_pg" = true ]; then
  [ -n "${listed[postgres.dump]:-}" ] || die "$name has no postgres.dump"
  grep -qx postgres <<<"$services" || die "the $ORCH_ENV stack has no postgres service"
fi
if [ "$do_redis" = true ]; then
  if [ -z "${listed[redis.rdb]:-}" ]; then
    [ "$part" = full ] || die "$name has no redis.rdb ($(manifest_value redis))"
    log "note: $name has no redis.rdb: redis left as it is"
    do_redis=false
  elif ! grep -qx redis <<<"$services"; then
    [ "$part" = full ] || die "the $ORCH_ENV stack has no redis service"
    log "note: the $ORCH_ENV stack has no redis service: redis.rdb not restored"
    do_redis=false
  fi
fi
if [ "$do_config" = true ]; then
  [ -n "${listed[config.tar.gz]:-}" ] || die "$name has no config.tar.gz"
  # Only relative paths under ops/, none through '..'.
  entries=$(tar -tzf "$backup/config.tar.gz") || die "config.tar.gz cannot be read"
  bad=$(grep -Ev '^ops/' <<<"$entries" | head -3 || true)
  [ -z "$bad" ] || die "config.tar.gz holds paths outside ops/: $bad"
  ! grep -Eq '(^|/)\.\.(/|$)' <<<"$entries" || die "config.tar.gz holds paths with '..'"
fi

# --- checks on the target, before anything is stopped or changed ---
if [ "$do_pg" = true ]; then
  ensure_up postgres pg_ready
  # The target's tables, and those of tasks, schedules and runs holding a row.
  target=$(psql_q "SELECT 'table: ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p');
    SELECT 'occupied: ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname IN ('tasks', 'schedules', 'runs')
      AND (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM (SELECT 1 FROM public.%I LIMIT 1) s', c.relname), false, true, '')))[1]::text <> '0'") ||
    die "cannot inspect the target database"
  occupied=$(sed -n 's/^occupied: //p' <<<"$target" | sort | paste -sd, | sed 's/,/, /g')
  if [ -n "$occupied" ]; then
    [ "$force" = true ] || die "REFUSED: the $ORCH_ENV database is not empty (rows in: $occupied); a restore would replace them. Take a backup of it first, then run again with --force"
    log "the database is not empty (rows in: $occupied): replacing it (--force)"
  fi
  # pg_restore --clean drops only what the dump holds: a table the backup does
  # not know (a newer schema) would survive and break the next migration.
  # shellcheck disable=SC2016
  dump_tables=$(pg_sh 'exec pg_restore --list' <"$backup/postgres.dump" |
    sed -nE 's/^[0-9]+; [0-9]+ [0-9]+ TABLE public ([^ ]+) .*/\1/p' | sort -u) ||
    die "pg_restore --list cannot read postgres.dump"
  live_tables=$(sed -n 's/^table: //p' <<<"$target" | sort -u)
  extra=$(comm -13 <(echo "$dump_tables") <(echo "$live_tables") | paste -sd' ')
  [ -z "$extra" ] ||
    die "REFUSED: the target database has tables the backup lacks ($extra): its schema is newer than the backup's (schema_version $(manifest_value schema_version)). Restore into a fresh database (the orchestrators migrate it after the restore)"
fi
if [ "$do_redis" = true ]; then
  ensure_up redis redis_ready
  cid=$(running_ids redis)
  [ "$(wc -l <<<"$cid")" -eq 1 ] || die "redis has more than one container: restore it by hand"
  # Its size and where and how it persists, in one call.
  # shellcheck disable=SC2016
  facts=$(redis_sh 'echo "keys $(redis-cli --raw DBSIZE)"
    for k in dir dbfilename appendonly appendfilename appenddirname; do
      echo "$k $(redis-cli --raw CONFIG GET "$k" | sed -n 2p)"
    done') || die "cannot ask redis its size and configuration"
  fact() { sed -n "s/^$1 //p" <<<"$facts"; }
  keys=$(fact keys)
  [[ "$keys" =~ ^[0-9]+$ ]] || die "redis answered DBSIZE with '$keys'"
  if [ "$keys" != 0 ]; then
    [ "$force" = true ] || die "REFUSED: redis holds $keys keys; a restore would replace them (--force to do it)"
    log "redis holds $keys keys: replacing them (--force)"
  fi
  r_dir=$(fact dir) r_file=$(fact dbfilename) r_aof=$(fact appendonly)
  r_aof_file=$(fact appendfilename) r_aof_dir=$(fact appenddirname) # appenddirname: Redis 7 and later
  if [ -z "$r_dir" ] || [ -z "$r_file" ]; then
    die "redis refuses CONFIG GET (renamed command?): restore redis.rdb by hand"
  fi
fi

# --- the restore ---
stopped=()
# shellcheck disable=SC2317  # called by the EXIT trap
restart_after_failure() {
  local rc=$?
  [ "$rc" -ne 0 ] || return 0
  if [ "${redis_stopped:-false}" = true ]; then
    log "starting redis again after the failure"
    dc start redis >/dev/null 2>&1 || true
  fi
  if [ -n "${aof_pending:-}" ]; then
    log "the AOF redis had before the restore was moved aside: $(tr '\n' ' ' <<<"$aof_pending")(move it back, with redis stopped, to return to it)"
  fi
  if [ "${#stopped[@]}" -gt 0 ]; then
    if [ "${pg_unverified:-false}" = true ]; then
      log "the orchestrators are left stopped: look at the database, then: ${COMPOSE_CMD[*]} -f $COMPOSE_FILE_PATH${COMPOSE_PROJECT_NAME:+ -p $COMPOSE_PROJECT_NAME} start ${stopped[*]}"
    else
      log "starting the orchestrators again after the failure (a failed pg_restore changes nothing: one transaction)"
      dc start "${stopped[@]}" >/dev/null 2>&1 || true
    fi
  fi
}
trap restart_after_failure EXIT
start_s=$SECONDS

if [ "$do_pg" = true ] || [ "$do_redis" = true ]; then
  for svc in "${ORCH_SERVICES[@]}"; do
    grep -qx "$svc" <<<"$services" && stopped+=("$svc")
  done
  if [ "${#stopped[@]}" -gt 0 ]; then
    log "stopping ${stopped[*]}"
    dc stop "${stopped[@]}" >/dev/null 2>&1 || die "cannot stop ${stopped[*]}"
  fi
fi

if [ "$do_pg" = true ]; then
  log "restoring PostgreSQL from postgres.dump ($(stat -c %s "$backup/postgres.dump") bytes, one transaction)"
  errlog=$(mktemp)
  # shellcheck disable=SC2016
  if ! pg_sh 'exec pg_restore -U "$u" -d "$d" --clean --if-exists --no-owner --single-transaction --exit-on-error' \
    <"$backup/postgres.dump" 2>"$errlog"; then
    log "$(tail -5 "$errlog")"
    rm -f "$errlog"
    die "pg_restore failed: the database was left as it was (one transaction)"
  fi
  rm -f "$errlog"
  # Committed: from here a failure leaves the orchestrators stopped.
  pg_unverified=true
  # Every table must hold exactly the rows the dump holds (backup.sh counted
  # them in the dump itself; nothing else writes while the orchestrators stop).
  now_rows=$(psql_q "ANALYZE; SELECT c.relname || ' ' || (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname" | grep -v '^ANALYZE$') ||
    die "cannot count the restored rows"
  wrong=$(awk 'NR == FNR { have[$1] = $2; next }
    have[$1] != $2 { print $1 ": " (($1 in have) ? have[$1] " rows" : "no table") ", the backup " $2 }' \
    <(echo "$now_rows") <(sed -n 's/^rows: //p' "$manifest"))
  [ -z "$wrong" ] || die "the restored database does not match the backup: $(paste -sd';' <<<"$wrong")"
  pg_unverified=false
  log "PostgreSQL restored, rows as in the backup: $(paste -sd',' <<<"$now_rows" | sed 's/,/, /g')"
fi

if [ "$do_redis" = true ]; then
  aof_moved=""
  if [ "$r_aof" = yes ]; then
    # The AOF wins over the rdb at start: turn it off, move it aside. Started
    # with appendonly yes and no AOF in its folder, redis takes the file named
    # appendfilename as an old-style AOF (an RDB preamble is a valid one),
    # loads it and makes it the base of a new multi-part AOF (Redis 7), or
    # keeps appending to it (Redis 6 and older).
    rcli CONFIG SET appendonly no >/dev/null || die "cannot turn AOF off"
    tag=pre-restore-$(date -u +%Y%m%dT%H%M%SZ)
    # shellcheck disable=SC2016
    aof_moved=$(redis_sh 'cd "$1" || exit 1; for f in "$2" "$3"; do if [ -n "$f" ] && [ -e "$f" ]; then mv "$f" "$f.$4" && echo "$1/$f.$4"; fi; done' \
      sh "$r_dir" "$r_aof_dir" "$r_aof_file" "$tag") || die "cannot move the AOF aside in $r_dir"
    aof_pending=$aof_moved
  fi
  log "stopping redis"
  redis_stopped=true
  dc stop redis >/dev/null 2>&1 || die "cannot stop redis"
  docker cp "$backup/redis.rdb" "$cid:$r_dir/$r_file" || die "docker cp of redis.rdb into $r_dir failed"
  if [ "$r_aof" = yes ]; then
    docker cp "$backup/redis.rdb" "$cid:$r_dir/$r_aof_file" || die "docker cp of the AOF base into $r_dir failed"
  fi
  dc start redis >/dev/null 2>&1 || die "cannot start redis"
  redis_stopped=false
  poll 180 redis_ready || die "redis does not answer PING after 180 s (docker logs $cid)"
  keys=$(rcli DBSIZE)
  want=$(manifest_value redis_keys)
  if [[ "$want" =~ ^[0-9]+$ ]] && [ "$want" -gt 0 ] && [ "$keys" -eq 0 ]; then
    die "redis started empty although redis.rdb holds $want keys"
  fi
  [ "$want" = "$keys" ] || log "note: redis holds $keys keys, redis.rdb held ${want:-unknown} (keys with a TTL may have expired)"
  if [ "$r_aof" = yes ]; then
    if [ "$(rcli CONFIG GET appendonly | sed -n 2p)" = yes ]; then
      # A rewrite gives the AOF a base of redis's own making; the adopted file
      # becomes history and is deleted.
      aof_done() {
        local info
        info=$(rcli INFO persistence) || return 1
        grep -q '^aof_rewrite_in_progress:0' <<<"$info" && grep -q '^aof_rewrite_scheduled:0' <<<"$info"
      }
      rcli BGREWRITEAOF >/dev/null || die "BGREWRITEAOF refused"
      poll 600 aof_done || die "the AOF rewrite did not finish within 600 s"
      rcli INFO persistence | grep -q '^aof_last_bgrewrite_status:ok' || die "the AOF rewrite failed (see the redis log)"
      log "redis: a new AOF was written from the snapshot"
    else
      log "note: redis came back without AOF (it was on at run time only, not in its configuration)"
    fi
    log "redis: the previous AOF is kept: $(tr '\n' ' ' <<<"$aof_moved")(delete it once satisfied)"
  fi
  aof_pending=
  log "redis restored: $keys keys"
fi

if [ "$do_config" = true ]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/orchestrator-config-$name-XXXXXX")
  tar -xzf "$backup/config.tar.gz" -C "$out" || die "cannot extract config.tar.gz"
  changed=$(cd "$out" && find ops -type f | sort | while read -r f; do
    cmp -s "$f" "$ROOT_DIR/$f" || echo "$f"
  done)
  if [ -z "$changed" ]; then
    log "config: identical to the live files"
  elif [ "$force" = true ]; then
    # Save the live versions of what is about to be replaced, then replace.
    mapfile -t existing < <(cd "$ROOT_DIR" && while read -r f; do [ -e "$f" ] && echo "$f"; done <<<"$changed")
    if [ "${#existing[@]}" -gt 0 ]; then
      tar -C "$ROOT_DIR" -czf "$out/live-before-restore.tar.gz" "${existing[@]}" || die "cannot save the live config"
    fi
    tar -xzf "$backup/config.tar.gz" -C "$ROOT_DIR" || die "cannot extract config.tar.gz over $ROOT_DIR"
    log "config: replaced $(wc -l <<<"$changed") live files (--force); the previous ones: $out/live-before-restore.tar.gz"
  else
    log "config: $(wc -l <<<"$changed") files differ from the live ones (not touched without --force): $(paste -sd' ' <<<"$changed")"
  fi
  log "config extracted for review: diff -ru $out/ops $ROOT_DIR/ops"
  echo "$out"
fi

if [ "${#stopped[@]}" -gt 0 ]; then
  existing=() missing=()
  for svc in "${stopped[@]}"; do
    if awk -v s="$svc" '$1 == s { found = 1 } END { exit !found }' <<<"$containers"; then
      existing+=("$svc")
    else
      missing+=("$svc")
    fi
  done
  log "starting ${stopped[*]}"
  [ "${#existing[@]}" -eq 0 ] || dc start "${existing[@]}" >/dev/null 2>&1 || die "cannot start ${existing[*]}"
  [ "${#missing[@]}" -eq 0 ] || dc up -d --no-recreate --no-build "${missing[@]}" >/dev/null 2>&1 || die "cannot create ${missing[*]}"
  stopped=()
  if [ "$ORCH_ENV" = production ]; then
    api_url=${API_URL:-http://127.0.0.1:${NGINX_HTTP_PORT:-80}}
  else
    api_url=${API_URL:-http://127.0.0.1:${API_PORT:-8080}}
  fi
  health_timeout=${HEALTH_TIMEOUT:-180}
  health_out=
  healthy() { health_out=$(API_URL=$api_url TIMEOUT=5 bash "$OPS_DIR/scripts/health-check.sh" 2>&1); }
  if ! poll "$health_timeout" healthy; then
    log "$health_out"
    die "restored, but $api_url is not healthy after $health_timeout s"
  fi
  log "$health_out"
fi
log "restore of $part from $name done in $((SECONDS - start_s)) s"
