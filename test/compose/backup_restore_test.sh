#!/usr/bin/env bash
# ops/scripts/backup.sh and restore.sh on the development stack: data made
# through the API (tasks, a schedule firing every second, a batch of runs) is
# backed up online with keys of the test's own in Redis, the database is
# destroyed (container and volume) and redis too, the orchestrators migrate a
# fresh database, restore.sh puts the data back: every table has the same rows
# (count and md5 of every row), every redis key the same value, the schedule
# fires again with no fire time twice, new runs succeed, the stack is healthy.
# Then the refusals:
# a non-empty database without --force, a damaged dump (sha256), bad arguments,
# each leaving the data untouched; and backup.sh's retention.
# Usage: test/compose/backup_restore_test.sh   (ctest label compose)
set -euo pipefail
# shellcheck source=test/compose/lib.sh
. "$(dirname "$0")/lib.sh"

# The scripts pick the development stack and this test's project (exported
# COMPOSE_PROJECT_NAME, images and API_PORT from lib.sh), nothing else.
export ORCH_ENV=development
unset COMPOSE_FILE_OVERRIDE ORCH_ENV_FILE API_URL BACKUP_DIR BACKUP_KEEP_DAYS
WORK=$(mktemp -d)
export TMPDIR=$WORK/tmp # restore.sh's config folders land here
mkdir -p "$TMPDIR"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup_all() {
  cleanup
  rm -rf "$WORK"
}
trap cleanup_all EXIT
BACKUP=$ROOT/ops/scripts/backup.sh
RESTORE=$ROOT/ops/scripts/restore.sh
SCHEDULE=every-second

api() { # method path [json]
  curl -fsS -X "$1" "$URL$2" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
put_echo_task() { # name
  api PUT "/v1/tasks/$1" "{\"description\":\"echoes $1\",\"retry\":{\"max_attempts\":1},\"steps\":[{\"name\":\"say\",\"exec\":{\"command\":[\"/bin/echo\",\"hello from $1\"]}}]}" >/dev/null ||
    fail "task $1"
}
# "table count md5" for every table of the public schema but nodes: its rows
# are per-process liveness (last_seen heartbeats, the incarnation of each
# process start, active counts, up/down), rewritten by every running node a few
# times a second and on every start, so no restore can keep them as they were.
# Leases live in runs (lease_owner, lease_expires_at) and only running runs
# hold one: the test compares with every run finished.
checksums() {
  dc exec -T postgres psql -X -v ON_ERROR_STOP=1 -U orchestrator -d orchestrator -tA <<'SQL'
SELECT format('SELECT %L || '' '' || count(*) || '' '' || md5(coalesce(string_agg(t::text, '','' ORDER BY t::text), '''')) FROM public.%I t',
              c.relname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'nodes'
ORDER BY c.relname
\gexec
SQL
}
busy() { psql_q "SELECT count(*) FROM runs WHERE status IN ('pending', 'running')"; }
quiet() { [ "$(busy)" -eq 0 ]; }
fires() { psql_q "SELECT count(*) FROM runs WHERE schedule_id = '$SCHEDULE'"; }
duplicate_fires() {
  psql_q "SELECT count(*) FROM (SELECT 1 FROM runs WHERE schedule_id IS NOT NULL
          GROUP BY schedule_id, scheduled_for HAVING count(*) > 1) d"
}
# Redis is not used by the orchestrator yet: the test writes its own keys
# (strings, a hash, a list, one with a TTL far away) and reads them back.
redis_cli() { dc exec -T redis redis-cli --raw "$@"; }
# DBSIZE, then "key type md5-of-DUMP" for every key, in one exec.
redis_state() {
  # shellcheck disable=SC2016  # expanded by the container's shell
  dc exec -T redis sh -c 'redis-cli DBSIZE; redis-cli --scan | sort | while read -r k; do
    echo "$k $(redis-cli TYPE "$k") $(redis-cli --raw DUMP "$k" | md5sum | cut -c1-32)"; done'
}
started_at() { docker inspect -f '{{.State.StartedAt}}' "$(dc ps -q api)"; }
# Runs restore.sh, keeps its exit status in $rc and its stderr in $WORK/err.
restore_rc() {
  rc=0
  bash "$RESTORE" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
}

stack_up

# 1. Data through the API.
put_nap_task 0.05
for t in alpha beta gamma delta; do put_echo_task "$t"; done
api PUT /v1/tasks/alpha '{"description":"second version","steps":[{"name":"say","exec":{"command":["/bin/echo","alpha v2"]}}]}' >/dev/null ||
  fail "alpha v2"
put_echo_task tick
api POST /v1/schedules "{\"id\":\"$SCHEDULE\",\"task\":\"tick\",\"cron\":\"* * * * * *\"}" >/dev/null || fail "schedule"
submit_naps 200
jq -nc '{runs: [range(0; 30) | {task: (["alpha", "beta", "gamma"][. % 3]), params: {}}]}' |
  curl -fsS -X POST "$URL/v1/runs/batch" -H 'Content-Type: application/json' -d @- >/dev/null || fail "echo batch"
made() {
  [ "$(psql_q "SELECT count(*) FROM runs WHERE status = 'succeeded' AND schedule_id IS NULL")" -eq 230 ] &&
    [ "$(fires)" -ge 5 ]
}
wait_for 120 made || fail "data not made: $(psql_q "SELECT task, status, count(*) FROM runs GROUP BY 1, 2")"
# Quiescent data (but a running stack): the schedule paused, every run finished.
api POST "/v1/schedules/$SCHEDULE/pause" >/dev/null || fail "pause"
wait_for 60 quiet || fail "runs still busy: $(busy)"
fires_before=$(fires)
last_fire=$(psql_q "SELECT max(scheduled_for) FROM runs WHERE schedule_id = '$SCHEDULE'")
max_id=$(psql_q "SELECT max(id) FROM runs")
[ "$(psql_q "SELECT count(*) FROM run_logs")" -gt 0 ] || fail "no run_logs rows to back up"
for i in $(seq 1 50); do echo "SET key:$i value-$i"; done | dc exec -T redis redis-cli >/dev/null || fail "redis keys"
{ redis_cli HSET h a 1 b 2 c 3 && redis_cli RPUSH l x y z && redis_cli SET ttl v EX 86400; } >/dev/null || fail "redis keys"
redis_before=$(redis_state)
before=$(checksums)
echo "data: $(tr '\n' ';' <<<"$before" | sed 's/ [0-9a-f]\{32\}//g')"

# 2. Online backup; the data must not have moved while it ran.
t0=$(now_ms)
out=$(bash "$BACKUP" --dir "$WORK/backups" --keep-days 7 2>"$WORK/err") || fail "backup.sh: $(cat "$WORK/err")"
backup_ms=$(($(now_ms) - t0))
bk=$(tail -1 <<<"$out")
[ "$(checksums)" = "$before" ] || fail "the data changed while the backup ran: the comparison would be unsound"
{ [ -d "$bk" ] && [[ "${bk##*/}" =~ ^orchestrator-[0-9]{8}T[0-9]{6}Z$ ]]; } || fail "backup.sh printed '$bk'"
for f in MANIFEST postgres.dump redis.rdb config.tar.gz; do [ -s "$bk/$f" ] || fail "backup lacks $f"; done
grep -q '^secrets: NOT included' "$bk/MANIFEST" || fail "MANIFEST does not say secrets are left out"
grep -q "^rows: runs $((fires_before + 230))$" "$bk/MANIFEST" || fail "MANIFEST's runs count: $(grep '^rows: runs' "$bk/MANIFEST")"
grep -q '^image: api orchestrator:latest sha256:' "$bk/MANIFEST" || fail "MANIFEST lacks the api's image"
grep -q '^postgres_version: 15' "$bk/MANIFEST" || fail "MANIFEST lacks PostgreSQL's version"
grep -q '^redis_keys: 53$' "$bk/MANIFEST" || fail "MANIFEST's redis keys: $(grep '^redis' "$bk/MANIFEST")"
! tar -tzf "$bk/config.tar.gz" | grep -q '^ops/secrets' || fail "config.tar.gz holds secrets"
tar -tzf "$bk/config.tar.gz" | grep -qx 'ops/docker-compose.yml' || fail "config.tar.gz lacks the compose file"
backup_bytes=$(du -sb "$bk" | cut -f1)
echo "figure: backup $backup_bytes bytes in $backup_ms ms ($(grep '^file: ' "$bk/MANIFEST" | awk '{printf "%s %s B; ", $2, $3}'))"

# Retention: a complete backup older than --keep-days goes, the rest stays.
old=$WORK/backups/orchestrator-20000101T000000Z
mkdir -p "$old" "$WORK/backups/orchestrator-20000102T000000Z" "$WORK/backups/orchestrator-20000103T000000Z.failed"
echo "format: 1" >"$old/MANIFEST"
sleep 1 # one backup a second at most
out=$(bash "$BACKUP" --dir "$WORK/backups" --keep-days 7 2>"$WORK/err") || fail "second backup.sh: $(cat "$WORK/err")"
[ ! -e "$old" ] || fail "retention kept an old complete backup"
[ -d "$WORK/backups/orchestrator-20000102T000000Z" ] || fail "retention deleted a folder without MANIFEST"
[ -d "$WORK/backups/orchestrator-20000103T000000Z.failed" ] || fail "retention deleted a .failed backup"
{ [ -d "$bk" ] && [ -d "$(tail -1 <<<"$out")" ]; } || fail "retention deleted a recent backup"
grep -q 'retention: deleted orchestrator-20000101T000000Z' "$WORK/err" || fail "retention did not say what it deleted"

# 3. Disaster: the database's container and volume are gone, and redis's
# container (its data lives in it); the orchestrators migrate a fresh database.
dc stop api scheduler worker >/dev/null 2>&1
dc stop postgres redis >/dev/null 2>&1
dc rm -f postgres redis >/dev/null 2>&1
docker volume rm "${COMPOSE_PROJECT_NAME}_pgdata" >/dev/null || fail "cannot remove the pgdata volume"
dc up -d --no-build postgres redis >/dev/null 2>&1 || fail "postgres and redis up"
dc start api scheduler worker >/dev/null 2>&1 || fail "orchestrators start"
wait_for 180 all_healthy || fail "stack not healthy on the fresh database"
[ "$(psql_q "SELECT count(*) FROM runs") $(psql_q "SELECT count(*) FROM tasks")" = "0 0" ] || fail "the fresh database is not empty"
[ "$(psql_q "SELECT count(*) FROM schema_migrations")" -ge 1 ] || fail "the fresh database is not migrated"
[ "$(redis_cli DBSIZE)" -eq 0 ] || fail "the fresh redis is not empty"

# 4. Restore onto the migrated, empty database: no --force needed.
t0=$(now_ms)
restore_rc "$bk"
restore_ms=$(($(now_ms) - t0))
[ "$rc" -eq 0 ] || fail "restore.sh exit $rc: $(cat "$WORK/err")"
sed 's/^/  | /' "$WORK/err"
echo "figure: restore (stop, pg_restore, redis, config, start, healthy) in $restore_ms ms"

# 5. Every table as it was; the stack healthy; the schedule fires again, once
# per fire time; new runs take new ids and succeed.
after=$(checksums)
if [ "$after" != "$before" ]; then
  diff <(echo "$before") <(echo "$after") >&2 || true
  fail "restored tables differ from the backed-up ones"
fi
cfg=$(tail -1 "$WORK/out")
[ "$(redis_state)" = "$redis_before" ] || fail "redis differs after the restore: $(diff <(echo "$redis_before") <(redis_state) | head -5)"
{ [ -d "$cfg" ] && cmp -s "$cfg/ops/docker-compose.yml" "$ROOT/ops/docker-compose.yml"; } || fail "config not extracted for review: '$cfg'"
[ "$(psql_q "SELECT count(*) FROM pg_indexes WHERE indexname = 'runs_schedule_fire'")" -eq 1 ] || fail "unique fire index not restored"
out=$(API_URL=$URL TIMEOUT=5 bash "$ROOT/ops/scripts/health-check.sh") || fail "health-check.sh after restore: $out"
wait_for 60 nodes_up || fail "nodes not up after restore: $(curl -sS "$URL/v1/nodes")"
api POST "/v1/schedules/$SCHEDULE/resume" >/dev/null || fail "resume"
fired_again() {
  [ "$(psql_q "SELECT count(*) FROM runs WHERE schedule_id = '$SCHEDULE' AND scheduled_for > '$last_fire' AND status = 'succeeded'")" -ge 3 ]
}
wait_for 60 fired_again || fail "the schedule did not fire again: $(psql_q "SELECT status, count(*) FROM runs WHERE schedule_id = '$SCHEDULE' GROUP BY 1")"
submit_naps 20
new_done() { [ "$(psql_q "SELECT count(*) FROM runs WHERE task = 'nap' AND id > $max_id AND status = 'succeeded'")" -eq 20 ]; }
wait_for 60 new_done || fail "new runs after the restore: $(psql_q "SELECT status, count(*) FROM runs WHERE id > $max_id GROUP BY 1")"
[ "$(duplicate_fires)" -eq 0 ] || fail "$(duplicate_fires) fire times ran twice"

# Refusals, each leaving the data (and the running orchestrators) untouched.
api POST "/v1/schedules/$SCHEDULE/pause" >/dev/null || fail "pause"
wait_for 60 quiet || fail "runs still busy: $(busy)"
now=$(checksums)
since=$(started_at)
restore_rc "$bk"
[ "$rc" -eq 1 ] || fail "restore.sh over a non-empty database without --force: exit $rc"
grep -q 'REFUSED: the development database is not empty' "$WORK/err" || fail "refusal message: $(cat "$WORK/err")"
mkdir -p "$WORK/damaged"
cp -r "$bk" "$WORK/damaged/"
dump=$WORK/damaged/${bk##*/}/postgres.dump
python3 - "$dump" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for i in range(len(b) // 2, len(b) // 2 + 4):
    b[i] ^= 0xFF
open(p, 'wb').write(bytes(b))
PY
restore_rc "$WORK/damaged/${bk##*/}" --force # --force: only the sha256 check stands in the way
[ "$rc" -eq 1 ] || fail "restore.sh of a damaged dump: exit $rc"
grep -q 'postgres.dump: sha256 mismatch' "$WORK/err" || fail "damaged dump message: $(cat "$WORK/err")"
restore_rc "$WORK/no-such-backup"
[ "$rc" -eq 2 ] || fail "restore.sh of a missing path: exit $rc"
restore_rc "$bk" everything
[ "$rc" -eq 2 ] || fail "restore.sh with an unknown part: exit $rc"
grep -q "unknown part 'everything'" "$WORK/err" || fail "unknown part message: $(cat "$WORK/err")"
rc=0
bash "$BACKUP" --dir "$WORK/backups" --bogus >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "backup.sh with an unknown option: exit $rc"
[ "$(checksums)" = "$now" ] || fail "a refused restore changed the data"
[ "$(started_at)" = "$since" ] || fail "a refused restore restarted the api"
[ "$(redis_state)" = "$redis_before" ] || fail "a refused restore changed redis"

echo "PASS backup/restore: $(grep -c . <<<"$before") tables identical after restore ($(psql_q "SELECT count(*) FROM runs WHERE id <= $max_id") runs), schedule fired again without duplicates, refusals left the data untouched; backup $backup_bytes B in $backup_ms ms, restore in $restore_ms ms"
