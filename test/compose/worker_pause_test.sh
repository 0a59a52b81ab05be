#!/usr/bin/env bash
# A worker container is frozen under load (`docker pause`: every process in
# it stops, its sockets stay open, so its peers see silence, not a closed
# connection) for longer than CLUSTER_TIMEOUT and NODE_TIMEOUT, then thawed.
# Proves: the peers declare it down and release its runs, which start again
# on other nodes while it is frozen; every run it held and had not finished
# runs again under a later attempt; the steps it was running finish after
# the thaw and their results are rejected by the lease fence and counted in
# orchestrator_stale_completions_total on the frozen node, which knows it was
# stalled and declares nobody down; every acknowledged run succeeds with
# exactly one recorded completion, that of its last attempt; the node rejoins
# (up in /v1/nodes, joined by every peer).
# Usage: test/compose/worker_pause_test.sh   (ctest label compose)
set -euo pipefail
# Short timeouts, so the pause outlasts both in a few seconds.
export CLUSTER_TIMEOUT=2s NODE_TIMEOUT=4s
# shellcheck source=test/compose/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=test/compose/failover_lib.sh
. "$(dirname "$0")/failover_lib.sh"

stack_up
wait_for 30 all_joined || fail "the nodes did not all join each other"
# Steps of 2 s, so the frozen node is in the middle of some; more runs than
# the three pools hold (4 running + 64 prefetched each), so all stay busy.
put_nap_task 2
total=300
submit_naps "$total"

# (sed, not head: head would leave docker-compose writing into a closed pipe)
victim=$(dc ps -q worker | sed -n 1p)
victim_node=$(node_of "$victim")
[ -n "$victim_node" ] || fail "no node row for container $victim"
wait_for 60 running_on "$victim_node" 4 || fail "$victim_node is not running 4 runs"

stale_before=$(metric_in "$victim" orchestrator_stale_completions_total)
# What it holds just before it freezes (executing or prefetched: both are
# `running` in the database); a run it finishes in between is recorded at
# that attempt and counted apart.
snapshot_held held "$victim_node"
pause_ms=$(now_ms)
docker pause "$victim" >/dev/null
held=$(sql "SELECT count(*) FROM held")
echo "paused $victim_node holding $held runs"
[ "$held" -gt 0 ] || fail "$victim_node held no runs"

is_down() { [ "$(node_status "$victim_node")" = down ]; }
wait_for 30 is_down || fail "$victim_node was not declared down while frozen"
down_ms=$(down_after_ms "$victim_node" "$pause_ms")
echo "figure: ms from the pause to $victim_node declared down: $down_ms"
some_moved() { [ "$(moved_elsewhere held "$victim_node")" -gt 0 ]; }
wait_for 30 some_moved || fail "no run of $victim_node was claimed elsewhere"
# Frozen past NODE_TIMEOUT too: its heartbeat row is older than that.
row_silent() { [ "$(sql "SELECT (now() - last_seen > interval '$NODE_TIMEOUT')::int FROM nodes WHERE name = '$victim_node'")" = 1 ]; }
wait_for 30 row_silent || fail "the heartbeat row of $victim_node kept moving while frozen"

unpause_ms=$(now_ms)
docker unpause "$victim" >/dev/null
echo "figure: ms paused: $((unpause_ms - pause_ms))"

# The steps it was running finish now, under attempts the fence no longer admits.
stale=0
stale_counted() {
  stale=$(($(metric_in "$victim" orchestrator_stale_completions_total) - stale_before))
  [ "$stale" -gt 0 ]
}
wait_for 30 stale_counted || fail "no stale completion counted on $victim_node"
# Thawed, it saw its own stall: it lost its peers while stalled and only
# rejoins; it declares nobody down and releases no one's runs.
logs=$(docker logs --since "$((pause_ms / 1000))" "$victim" 2>&1)
echo "$logs" | grep -q 'while this node was stalled' || fail "$victim_node did not notice its own stall"
if echo "$logs" | grep -q 'declared down'; then fail "$victim_node declared a peer down after its thaw"; fi

is_up() { [ "$(node_status "$victim_node")" = up ]; }
wait_for 60 is_up || fail "$victim_node is not up again"
wait_for 60 nodes_up || fail "/v1/nodes does not list every node up: $(curl -sS "$URL/v1/nodes")"
wait_for 60 all_joined || fail "$victim_node did not rejoin the cluster"
rejoin_ms=$(($(now_ms) - unpause_ms))

wait_for 240 all_finished "$total" || fail "runs did not all finish: $(sql "SELECT status, count(*) FROM runs GROUP BY 1")"
check_exactly_once "$total"
check_held held
moved_all=$(moved held)
finished=$(done_before held)
elsewhere=$(moved_elsewhere held "$victim_node")
reclaim=$(first_reclaim_ms held "$pause_ms")
restep=$(first_restep_ms held "$pause_ms")
echo "figure: ms from the pause to the first of its runs claimed elsewhere: $reclaim"
echo "figure: ms from the pause to the first of its runs executing elsewhere: $restep"
echo "figure: runs it held: $held, finished before the pause: $finished, ran again: $moved_all, on another node: $elsewhere"
echo "figure: stale completions counted on $victim_node: $stale"
echo "figure: ms from the unpause to $victim_node up and joined by every peer: $rejoin_ms"
echo "PASS worker pause: $total runs succeeded once each, $held moved off $victim_node (down after ${down_ms} ms), $stale late results discarded, rejoined in ${rejoin_ms} ms"
