#!/usr/bin/env bash
# The development stack on the real Docker engine: from images built locally
# to every service healthy, every replica in /v1/nodes, and 1,000 runs of a
# 100 ms step spread over all worker containers, each recorded once.
# Usage: test/compose/dev_stack_test.sh   (ctest label compose)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export ORCH_IMAGE=${ORCH_IMAGE:-orchestrator:latest}
export POSTGRES_IMAGE=${POSTGRES_IMAGE:-orch-local/postgres:15}
export REDIS_IMAGE=${REDIS_IMAGE:-orch-local/redis:7}
export COMPOSE_PROJECT_NAME=orchdev$$
API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export API_PORT
URL=http://127.0.0.1:$API_PORT
WORKERS=3

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
dc() { "${COMPOSE[@]}" -f "$ROOT/ops/docker-compose.yml" "$@"; }
fail() {
  echo "FAIL: $*" >&2
  dc ps >&2 || true
  dc logs --tail 40 >&2 || true
  exit 1
}
cleanup() { dc down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Polls `cond` (a command) every 0.5 s for at most `secs` seconds.
wait_for() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}

bash "$ROOT/ops/scripts/build-images.sh"

start_ms=$(($(date +%s%N) / 1000000))
dc up -d --no-build --scale worker=$WORKERS >/dev/null 2>&1 || fail "compose up"
all_healthy() {
  local ids states
  ids=$(dc ps -q)
  [ "$(echo "$ids" | wc -l)" -eq $((4 + WORKERS)) ] || return 1
  # shellcheck disable=SC2086  # one id a word
  states=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)
  ! echo "$states" | grep -qv '^healthy$'
}
wait_for 180 all_healthy || fail "services not healthy within 180 s"
echo "figure: ms from up to every service healthy: $(($(date +%s%N) / 1000000 - start_ms))"

nodes_up() {
  local n
  n=$(curl -fsS "$URL/v1/nodes" | jq '[.items[] | select(.status == "up")] | length') || return 1
  [ "$n" -eq $((2 + WORKERS)) ]
}
wait_for 30 nodes_up || fail "/v1/nodes does not list $((2 + WORKERS)) nodes up: $(curl -sS "$URL/v1/nodes")"

curl -fsS -X PUT "$URL/v1/tasks/nap" -H 'Content-Type: application/json' \
  -d '{"steps":[{"name":"nap","exec":{"command":["/bin/sleep","0.1"]}}]}' >/dev/null ||
  fail "task"
body=$(jq -nc '{runs: [range(0; 1000) | {task: "nap", params: {}}]}')
curl -fsS -X POST "$URL/v1/runs/batch" -H 'Content-Type: application/json' -d "$body" >/dev/null ||
  fail "batch submit"

psql_q() { dc exec -T postgres psql -U orchestrator -d orchestrator -tAc "$1"; }
all_done() { [ "$(psql_q "SELECT count(*) FROM runs WHERE status = 'succeeded'")" -eq 1000 ]; }
wait_for 180 all_done || fail "1000 runs did not succeed: $(psql_q "SELECT status, count(*) FROM runs GROUP BY 1")"

spread=$(psql_q "SELECT count(DISTINCT node) FROM runs")
[ "$spread" -eq "$WORKERS" ] || fail "runs ran on $spread nodes, not $WORKERS"
# Each run executed once: one attempt, one step row.
again=$(psql_q "SELECT count(*) FROM runs WHERE attempt <> 1")
[ "$again" -eq 0 ] || fail "$again runs executed more than once"
steps=$(psql_q "SELECT count(*) FROM run_steps")
[ "$steps" -eq 1000 ] || fail "$steps step rows for 1000 runs"
echo "runs per worker: $(psql_q "SELECT string_agg(n::text, ' ') FROM (SELECT count(*) n FROM runs GROUP BY node ORDER BY 1) d")"
echo "PASS dev stack: $((4 + WORKERS)) services healthy, $((2 + WORKERS)) nodes, 1000 runs over $WORKERS workers"
