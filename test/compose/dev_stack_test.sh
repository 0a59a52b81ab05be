#!/usr/bin/env bash
# The development stack on the real Docker engine: from images built locally
# to every service healthy, every replica in /v1/nodes, 1,000 runs of a
# 100 ms step spread over all worker containers, each executed once, and
# ops/scripts/health-check.sh's exit codes against the stack.
# Usage: test/compose/dev_stack_test.sh   (ctest label compose)
set -euo pipefail
# shellcheck source=test/compose/lib.sh
. "$(dirname "$0")/lib.sh"

stack_up
put_nap_task 0.1
submit_naps 1000
all_done() { [ "$(succeeded)" -eq 1000 ]; }
wait_for 180 all_done || fail "1000 runs did not succeed: $(psql_q "SELECT status, count(*) FROM runs GROUP BY 1")"

spread=$(psql_q "SELECT count(DISTINCT node) FROM runs")
[ "$spread" -eq "$WORKERS" ] || fail "runs ran on $spread nodes, not $WORKERS"
# Each run executed once: one attempt, one step row.
again=$(psql_q "SELECT count(*) FROM runs WHERE attempt <> 1")
[ "$again" -eq 0 ] || fail "$again runs executed more than once"
steps=$(psql_q "SELECT count(*) FROM run_steps")
[ "$steps" -eq 1000 ] || fail "$steps step rows for 1000 runs"
echo "runs per worker: $(psql_q "SELECT string_agg(n::text, ' ') FROM (SELECT count(*) n FROM runs GROUP BY node ORDER BY 1) d")"
# The external health check: 0 healthy, 2 unreachable, 1 once the only
# scheduler is gone (no leader: the cluster is not healthy).
check() { API_URL=$1 TIMEOUT=3 bash "$ROOT/ops/scripts/health-check.sh"; }
out=$(check "$URL") || fail "health-check.sh: $out"
echo "$out" | grep -q '^HEALTHY' || fail "health-check.sh said: $out"
rc=0
out=$(check "http://127.0.0.1:1") || rc=$?
[ "$rc" -eq 2 ] || fail "health-check.sh on a closed port: exit $rc ($out)"
dc stop scheduler >/dev/null 2>&1
unhealthy() {
  local code=0
  out=$(check "$URL") || code=$?
  [ "$code" -eq 1 ]
}
wait_for 60 unhealthy || fail "health-check.sh did not report the missing scheduler: $out"
echo "$out" | grep -q 'scheduler: false' || fail "health-check.sh did not name the check: $out"

echo "PASS dev stack: $((4 + WORKERS)) services healthy, $((2 + WORKERS)) nodes, 1000 runs over $WORKERS workers"
