#!/usr/bin/env bash
# A worker container crashes under load (SIGKILL of its orchestrator process
# from the host, so the container exits on its own and its restart policy
# applies: `docker kill` counts as an operator's stop, which Docker does not
# restart). Every acknowledged run succeeds, none
# executes to completion twice, the dead node's runs start elsewhere within
# 2 s, and the container is restarted and rejoins the cluster.
# Usage: test/compose/worker_crash_test.sh   (ctest label compose)
set -euo pipefail
# shellcheck source=test/compose/lib.sh
. "$(dirname "$0")/lib.sh"

stack_up
put_nap_task 0.3
total=600
submit_naps "$total"

# The victim: a worker busy with runs.
busy() { [ "$(psql_q "SELECT count(*) FROM runs WHERE status = 'running'")" -ge 6 ]; }
wait_for 60 busy || fail "runs did not start"
victim=$(dc ps -q worker | head -1)
victim_host=$(docker inspect -f '{{.Config.Hostname}}' "$victim")
victim_node=$(psql_q "SELECT name FROM nodes WHERE name LIKE '$victim_host-%'")
[ -n "$victim_node" ] || fail "no node row for container $victim_host"
restarts_before=$(docker inspect -f '{{.RestartCount}}' "$victim")
tini_pid=$(docker inspect -f '{{.State.Pid}}' "$victim")
orch_pid=$(pgrep -P "$tini_pid" -x orchestrator) || fail "no orchestrator process under tini ($tini_pid)"
kill_ms=$(now_ms)
kill -KILL "$orch_pid"
echo "killed $victim_node (host pid $orch_pid)"
restarted() { [ "$(docker inspect -f '{{.RestartCount}}' "$victim")" -gt "$restarts_before" ]; }
wait_for 60 restarted || fail "the container was not restarted"

all_done() { [ "$(succeeded)" -eq "$total" ]; }
wait_for 240 all_done || fail "runs did not all succeed: $(psql_q "SELECT status, count(*) FROM runs GROUP BY 1")"

failed=$(psql_q "SELECT count(*) FROM runs WHERE status <> 'succeeded'")
[ "$failed" -eq 0 ] || fail "$failed runs did not succeed"
# One succeeded step row per run: no run completed twice.
twice=$(psql_q "SELECT count(*) FROM (SELECT run_id FROM run_steps WHERE status = 'succeeded' GROUP BY run_id HAVING count(*) > 1) d")
[ "$twice" -eq 0 ] || fail "$twice runs recorded as succeeded twice"
moved=$(psql_q "SELECT count(*) FROM runs WHERE lost_leases > 0")
[ "$moved" -gt 0 ] || fail "no run of the killed node was moved"
# Failover: the first of the victim's runs to start again elsewhere.
first_ms=$(psql_q "SELECT (extract(epoch FROM min(started_at)) * 1000)::bigint FROM runs WHERE lost_leases > 0")
failover=$((first_ms - kill_ms))
echo "figure: ms from the kill to the first of its runs starting elsewhere: $failover"
[ "$failover" -le 2000 ] || fail "failover took $failover ms"

# The restart policy brought the container back; it rejoins as the same node.
wait_for 120 all_healthy || fail "the restarted container did not become healthy"
wait_for 30 nodes_up || fail "the restarted node did not rejoin: $(curl -sS "$URL/v1/nodes")"
echo "PASS worker crash: $total runs succeeded, $moved moved off $victim_node, failover ${failover} ms, rejoined"
