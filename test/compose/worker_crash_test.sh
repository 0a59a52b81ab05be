#!/usr/bin/env bash
# Worker containers crash under load, five times in a row (SIGKILL of the
# orchestrator process from the host, so the container exits on its own and
# its restart policy applies: `docker kill` counts as an operator's stop,
# which Docker does not restart). Every acknowledged run succeeds, none
# executes to completion twice, each dead node's runs start elsewhere within
# 2 s (p50 and max over the trials printed), and each container is restarted
# and rejoins the cluster before the next trial.
# Usage: test/compose/worker_crash_test.sh   (ctest label compose)
set -euo pipefail
# shellcheck source=test/compose/lib.sh
. "$(dirname "$0")/lib.sh"

TRIALS=${TRIALS:-5}
stack_up
put_nap_task 0.3
total=0
failovers=()
for trial in $(seq "$TRIALS"); do
  submit_naps 300
  total=$((total + 300))
  # The victim: a worker busy with runs, a different container each trial.
  victim=$(dc ps -q worker | sed -n "$(((trial - 1) % WORKERS + 1))p")
  victim_host=$(docker inspect -f '{{.Config.Hostname}}' "$victim")
  victim_node=$(psql_q "SELECT name FROM nodes WHERE name LIKE '$victim_host-%'")
  [ -n "$victim_node" ] || fail "no node row for container $victim_host"
  busy() { [ "$(psql_q "SELECT count(*) FROM runs WHERE status = 'running' AND node = '$victim_node'")" -ge 2 ]; }
  wait_for 60 busy || fail "trial $trial: no runs started on $victim_node"
  held=$(psql_q "SELECT string_agg(id::text, ',') FROM runs WHERE status = 'running' AND node = '$victim_node'")
  restarts_before=$(docker inspect -f '{{.RestartCount}}' "$victim")
  kill_ms=$(now_ms)
  crash_container "$victim"
  restarted() { [ "$(docker inspect -f '{{.RestartCount}}' "$victim")" -gt "$restarts_before" ]; }
  wait_for 60 restarted || fail "trial $trial: the container was not restarted"
  # Failover: the first of the runs it held to start again elsewhere.
  moved_again() {
    [ "$(psql_q "SELECT count(*) FROM runs WHERE id IN ($held) AND lost_leases > 0 AND started_at > to_timestamp($kill_ms / 1000.0)")" -gt 0 ]
  }
  wait_for 30 moved_again || fail "trial $trial: none of the runs $victim_node held ran again"
  first_ms=$(psql_q "SELECT (extract(epoch FROM min(started_at)) * 1000)::bigint FROM runs WHERE id IN ($held) AND started_at > to_timestamp($kill_ms / 1000.0)")
  failover=$((first_ms - kill_ms))
  echo "trial $trial: killed $victim_node holding $(echo "$held" | tr ',' '\n' | wc -l) runs; failover $failover ms"
  [ "$failover" -le 2000 ] || fail "trial $trial: failover took $failover ms"
  failovers+=("$failover")
  # The restart policy brought the container back; it rejoins before the next trial.
  wait_for 120 all_healthy || fail "trial $trial: the restarted container did not become healthy"
  wait_for 30 nodes_up || fail "trial $trial: the restarted node did not rejoin: $(curl -sS "$URL/v1/nodes")"
done

all_done() { [ "$(succeeded)" -eq "$total" ]; }
wait_for 240 all_done || fail "runs did not all succeed: $(psql_q "SELECT status, count(*) FROM runs GROUP BY 1")"
failed=$(psql_q "SELECT count(*) FROM runs WHERE status <> 'succeeded'")
[ "$failed" -eq 0 ] || fail "$failed runs did not succeed"
# One succeeded step row per run: no run completed twice.
twice=$(psql_q "SELECT count(*) FROM (SELECT run_id FROM run_steps WHERE status = 'succeeded' GROUP BY run_id HAVING count(*) > 1) d")
[ "$twice" -eq 0 ] || fail "$twice runs recorded as succeeded twice"
moved=$(psql_q "SELECT count(*) FROM runs WHERE lost_leases > 0")
sorted=$(printf '%s\n' "${failovers[@]}" | sort -n)
p50=$(echo "$sorted" | sed -n "$(((TRIALS + 1) / 2))p")
max=$(echo "$sorted" | tail -1)
echo "figure: ms from a worker container's crash to the first of its runs starting elsewhere over $TRIALS trials: p50 $p50, max $max (all: $(echo "$sorted" | tr '\n' ' '))"
echo "PASS worker crash: $TRIALS crashes, $total runs succeeded once, $moved moved, failover p50 $p50 ms max $max ms, every container rejoined"
