#!/usr/bin/env bash
# Shared by the compose tests: a development stack under its own project name
# and API port, torn down with its volumes on exit. Source it, then stack_up.
# shellcheck disable=SC2034  # variables used by the sourcing scripts

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export ORCH_IMAGE=${ORCH_IMAGE:-orchestrator:latest}
export POSTGRES_IMAGE=${POSTGRES_IMAGE:-orch-local/postgres:15}
export REDIS_IMAGE=${REDIS_IMAGE:-orch-local/redis:7}
export COMPOSE_PROJECT_NAME=orchtest$$
API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export API_PORT
URL=http://127.0.0.1:$API_PORT
WORKERS=${WORKERS:-3}

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
dc() { "${COMPOSE[@]}" -f "$ROOT/ops/docker-compose.yml" "$@"; }
fail() {
  echo "FAIL: $*" >&2
  dc ps >&2 || true
  dc logs --tail 30 >&2 || true
  exit 1
}
# Background jobs (load generators, request loops) end with the test: left
# running they would hold ctest's output pipe open until its timeout.
# shellcheck disable=SC2317  # called by the EXIT traps
stop_jobs() {
  local pids
  pids=$(jobs -p)
  # shellcheck disable=SC2086  # one pid a word
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_jobs
  dc down -v --remove-orphans >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Polls a command every 0.2 s for at most `secs` seconds.
wait_for() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
psql_q() { dc exec -T postgres psql -U orchestrator -d orchestrator -tAc "$1"; }

all_healthy() {
  local ids states
  ids=$(dc ps -q)
  [ "$(echo "$ids" | wc -l)" -eq $((4 + WORKERS)) ] || return 1
  # shellcheck disable=SC2086  # one id a word
  states=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)
  ! echo "$states" | grep -qv '^healthy$'
}

nodes_up() {
  local n
  n=$(curl -fsS "$URL/v1/nodes" | jq '[.items[] | select(.status == "up")] | length') || return 1
  [ "$n" -eq $((2 + WORKERS)) ]
}

# Builds the images (cached after the first test of a run), starts the stack,
# waits until every service is healthy and every node is up; prints the time.
stack_up() {
  bash "$ROOT/ops/scripts/build-images.sh"
  local start
  start=$(now_ms)
  dc up -d --no-build --scale worker="$WORKERS" >/dev/null 2>&1 || fail "compose up"
  wait_for 180 all_healthy || fail "services not healthy within 180 s"
  echo "figure: ms from up to every service healthy: $(($(now_ms) - start))"
  wait_for 30 nodes_up || fail "/v1/nodes does not list $((2 + WORKERS)) nodes up: $(curl -sS "$URL/v1/nodes")"
}

# Creates the task `nap`: one step sleeping $1 seconds, one attempt.
put_nap_task() {
  curl -fsS -X PUT "$URL/v1/tasks/nap" -H 'Content-Type: application/json' \
    -d "{\"retry\":{\"max_attempts\":1},\"steps\":[{\"name\":\"nap\",\"exec\":{\"command\":[\"/bin/sleep\",\"$1\"]}}]}" \
    >/dev/null || fail "task"
}

# Submits $1 runs of `nap` in one batch (all acknowledged together).
submit_naps() {
  jq -nc --argjson n "$1" '{runs: [range(0; $n) | {task: "nap", params: {}}]}' |
    curl -fsS -X POST "$URL/v1/runs/batch" -H 'Content-Type: application/json' -d @- >/dev/null ||
    fail "batch submit"
}

succeeded() { psql_q "SELECT count(*) FROM runs WHERE status = 'succeeded'"; }

# SIGKILLs the orchestrator process of container $1 from the host, as a crash
# would: `docker kill` counts as an operator's stop, which the restart policy
# leaves alone.
crash_container() {
  local tini_pid orch_pid
  tini_pid=$(docker inspect -f '{{.State.Pid}}' "$1")
  orch_pid=$(pgrep -P "$tini_pid" -x orchestrator) || fail "no orchestrator process under tini ($tini_pid)"
  kill -KILL "$orch_pid"
}
