#!/usr/bin/env bash
# Smoke test of a running stack through its front door (nginx in production,
# the api port in development): healthy, every orchestrator container a node
# that is up, and one run submitted, executed and read back.
# Usage: smoke-test.sh [ENV] [--help]
#   ENV        production (default) or development
#   API_URL    front door (default: http://127.0.0.1:$NGINX_HTTP_PORT in production,
#              http://127.0.0.1:$API_PORT in development)
#   ORCH_TOKEN API token (default: the file SECRETS_DIR/api_token, if present)
#   SMOKE_TIMEOUT  seconds to wait for the run (default 60)
# Exit: 0 passed, 1 failed, 2 usage.
set -euo pipefail
# shellcheck source=ops/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

env_name=production
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      print_help 2 11
      exit 0
      ;;
    development | production) env_name=$1 ;;
    *)
      usage_error "unknown argument '$1'"
      ;;
  esac
  shift
done
select_env "$env_name"
if [ "$ORCH_ENV" = production ]; then
  API_URL=${API_URL:-http://127.0.0.1:${NGINX_HTTP_PORT:-80}}
else
  API_URL=${API_URL:-http://127.0.0.1:${API_PORT:-8080}}
fi
SECRETS_DIR=${SECRETS_DIR:-$OPS_DIR/secrets}
if [ -z "${ORCH_TOKEN:-}" ] && [ -r "$SECRETS_DIR/api_token" ]; then
  ORCH_TOKEN=$(tr -d '[:space:]' <"$SECRETS_DIR/api_token")
fi
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-60}
auth=()
[ -z "${ORCH_TOKEN:-}" ] || auth=(-H "Authorization: Bearer $ORCH_TOKEN")
api() { curl -fsS --max-time 10 "${auth[@]}" "$@"; }

API_URL=$API_URL TIMEOUT=10 bash "$OPS_DIR/scripts/health-check.sh" >&2 ||
  die "health check of $API_URL failed"

# Every orchestrator container is a node that is up.
expected=0
for s in "${ORCH_SERVICES[@]}"; do
  expected=$((expected + $(dc ps -q "$s" | wc -l)))
done
nodes_up() {
  up=$(api "$API_URL/v1/nodes" | jq '[.items[] | select(.status == "up")] | length') || return 1
  [ "$up" -ge "$expected" ]
}
poll 30 nodes_up || die "$API_URL/v1/nodes lists ${up:-no} nodes up, $expected containers run"

# One run end to end.
api -X PUT "$API_URL/v1/tasks/smoke-test" -H 'Content-Type: application/json' \
  -d '{"retry":{"max_attempts":1},"steps":[{"name":"echo","exec":{"command":["/bin/echo","smoke"]}}]}' \
  >/dev/null || die "cannot create the smoke-test task"
key="smoke-$(date +%s%N)"
run=$(api -X POST "$API_URL/v1/tasks/smoke-test/runs" -H 'Content-Type: application/json' \
  -d "{\"idempotency_key\":\"$key\"}" | jq -r '.id') ||
  die "cannot submit a run"
status=
finished() {
  status=$(api "$API_URL/v1/runs/$run" | jq -r '.status') || return 1
  case "$status" in succeeded | failed | cancelled) return 0 ;; esac
  return 1
}
poll "$SMOKE_TIMEOUT" finished || die "run $run not finished within $SMOKE_TIMEOUT s (status ${status:-unknown})"
[ "$status" = succeeded ] || die "run $run ended $status"
log "passed: $API_URL healthy, $expected nodes up, run $run succeeded"
