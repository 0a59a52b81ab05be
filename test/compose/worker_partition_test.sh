#!/usr/bin/env bash
# Network partitions of one worker under load, both ways, each healed again:
#   A. cut from the database, still connected to its peers: `docker network
#      disconnect` from the compose `db` network. Its heartbeat row goes stale;
#      a peer's dispatcher declares it down after NODE_TIMEOUT (the cluster
#      link stays up, so CLUSTER_TIMEOUT never fires) and its runs run
#      elsewhere; once reconnected it writes the results it held, which the
#      lease fence rejects and counts.
#   B. cut from its peers, still connected to the database: disconnected from
#      the cluster network (`default`); beforehand it is moved to reach
#      PostgreSQL over a network of its own (see below). Both sides lose the
#      link after CLUSTER_TIMEOUT and ask the database whether the other
#      lives: it does (its heartbeat session holds its presence lock, its row
#      is fresh), so nobody is declared down and no lease is released, on
#      either side, for NODE_TIMEOUT and after; the cut worker finishes every
#      run it held itself, with no late result for the fence to reject.
# Both: no acknowledged run lost, each recorded once (one step row per run,
# at its last attempt), the node up and joined by every peer once the link
# returns; prints how long until its runs ran elsewhere.
#
# Exactness. Docker's DNS answers a name from the asker's networks,
# non-internal ones first, and falls back to the next network when the first
# has no such name. The compose file puts every orchestrator on `default`
# (cluster) and on the internal `db` (PostgreSQL, Redis), so host names
# resolve to `default` addresses and cutting `db` leaves the cluster intact
# (checked below). Cutting `default` alone would not partition: the peers'
# next lookup of the cut worker's name falls back to its `db` address and the
# cluster re-forms over `db` within a second or two. So for B the victim
# first leaves `db` and reaches PostgreSQL over a network it shares with
# PostgreSQL only. A runs first: a reconnected container gets the lowest free
# address, which must be its old one, or its hung database connections (no
# TCP keepalive or user timeout) stay stuck until the kernel gives up on them.
# Usage: test/compose/worker_partition_test.sh   (ctest label compose)
set -euo pipefail
export CLUSTER_TIMEOUT=2s NODE_TIMEOUT=4s
# shellcheck source=test/compose/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=test/compose/failover_lib.sh
. "$(dirname "$0")/failover_lib.sh"
own_net=${COMPOSE_PROJECT_NAME}_dbonly
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup_all() {
  cleanup
  docker network rm "$own_net" >/dev/null 2>&1 || true
}
trap cleanup_all EXIT
net_cluster=${COMPOSE_PROJECT_NAME}_default
net_db=${COMPOSE_PROJECT_NAME}_db

ip_on() { docker inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.IPAddress}}{{end}}" "$1"; }
host_of() { docker inspect -f '{{.Config.Hostname}}' "$1"; }
# What Docker's DNS answers container $1 for name $2 (empty: no answer).
resolve_in() { docker exec "$1" getent hosts "$2" | awk '{ print $1 }' || true; }
# The log of container $1 since $2 (epoch ms).
logs_of() { docker logs --since "$(($2 / 1000))" "$1" 2>&1; }

stack_up
api=$(dc ps -q api)
pg=$(dc ps -q postgres)
mapfile -t workers < <(dc ps -q worker)
wa=${workers[0]} wb=${workers[1]}

wa_node=$(node_of "$wa")
wb_node=$(node_of "$wb")
{ [ -n "$wa_node" ] && [ -n "$wb_node" ]; } || fail "no node rows for the workers"
wait_for 30 all_joined || fail "the nodes did not all join each other"

# Which address a peer reaches each worker at: the `default` one.
for w in "${workers[@]}"; do
  got=$(resolve_in "$api" "$(host_of "$w")")
  want=$(ip_on "$w" "$net_cluster")
  echo "dns: api resolves $(host_of "$w") to $got (default $want, db $(ip_on "$w" "$net_db"))"
  [ "$got" = "$want" ] || fail "the api resolves $(host_of "$w") to $got, not its cluster address $want"
done

put_nap_task 2
total=240
submit_naps "$total"

# ---- A: the worker loses the database, keeps its peers ----------------------
wait_for 60 running_on "$wa_node" 4 || fail "$wa_node is not running 4 runs"
stale_a0=$(metric_in "$wa" orchestrator_stale_completions_total)
ip_a=$(ip_on "$wa" "$net_db")
# What it holds just before the cut (a run it finishes in between is recorded
# at that attempt and counted apart).
snapshot_held held_a "$wa_node"
cut_a=$(now_ms)
docker network disconnect "$net_db" "$wa"
held_a=$(sql "SELECT count(*) FROM held_a")
echo "A: cut $wa_node from $net_db holding $held_a runs"
[ -z "$(resolve_in "$wa" postgres)" ] || fail "$wa still resolves postgres"

is_down() { [ "$(node_status "$1")" = down ]; }
wait_for 30 is_down "$wa_node" || fail "$wa_node was not declared down"
down_a=$(down_after_ms "$wa_node" "$cut_a")
echo "figure: A: ms from the cut to $wa_node declared down: $down_a"
# Declared by the heartbeat rows, with every cluster link still up.
missed() {
  local w
  for w in $(dc ps -q worker); do
    logs_of "$w" "$cut_a" | grep -q "node $wa_node missed its heartbeats" && return 0
  done
  return 1
}
wait_for 10 missed || fail "no dispatcher logged $wa_node missing its heartbeats"
peers=$(peers_in "$api")
[ "$peers" = $((1 + WORKERS)) ] || fail "A: the api lost cluster peers ($peers) though only the database link was cut"
[ "$(peers_in "$wa")" = $((1 + WORKERS)) ] || fail "A: $wa_node lost cluster peers"
moved_a() { [ "$(moved_elsewhere held_a "$wa_node")" -gt 0 ]; }
wait_for 30 moved_a || fail "no run of $wa_node ran elsewhere"
echo "A: $wa_node says /ready while cut: $(docker exec "$wa" orchestrator health --path /ready --timeout 2s || true)"

heal_a=$(now_ms)
docker network connect "$net_db" "$wa"
echo "figure: A: ms cut from the database: $((heal_a - cut_a))"
ip_back=$(ip_on "$wa" "$net_db")
echo "A: $wa_node back on $net_db at $ip_back (was $ip_a)"
[ "$ip_back" = "$ip_a" ] || fail "A: $wa came back at another address: its hung database connections will not recover for minutes"
stale_a=0
stale_counted_a() {
  stale_a=$(($(metric_in "$wa" orchestrator_stale_completions_total) - stale_a0))
  [ "$stale_a" -gt 0 ]
}
wait_for 120 stale_counted_a || fail "no stale completion counted on $wa_node"
wait_for 60 nodes_up || fail "A: not every node up: $(curl -sS "$URL/v1/nodes")"
wait_for 60 all_joined || fail "A: the nodes did not all join each other"
back_a=$(($(now_ms) - heal_a))
echo "figure: A: ms from the reconnect to $wa_node up and joined: $back_a"

# ---- B: the worker loses its peers, keeps the database ----------------------
# Its database link moves to a network it shares with PostgreSQL only (a stop
# and start, so no connection of it is cut); then it leaves `default`.
docker stop "$wb" >/dev/null
docker network create --internal "$own_net" >/dev/null
docker network connect --alias postgres "$own_net" "$pg"
docker network disconnect "$net_db" "$wb"
docker network connect "$own_net" "$wb"
docker start "$wb" >/dev/null
wait_for 120 all_healthy || fail "services not healthy after moving $wb to $own_net"
wait_for 30 nodes_up || fail "not every node up: $(curl -sS "$URL/v1/nodes")"
wait_for 30 all_joined || fail "the nodes did not all join each other"
got=$(resolve_in "$api" "$(host_of "$wb")")
[ "$got" = "$(ip_on "$wb" "$net_cluster")" ] || fail "the api resolves $(host_of "$wb") to $got, not its cluster address"

submit_naps "$total"
total=$((2 * total))
wait_for 60 running_on "$wb_node" 4 || fail "$wb_node is not running 4 runs"
stale_b0=$(metric_in "$wb" orchestrator_stale_completions_total)
snapshot_held held_b "$wb_node"
sql "CREATE TABLE held_others AS SELECT id, attempt, lost_leases FROM runs WHERE status = 'running' AND node <> '$wb_node'" >/dev/null
cut_b=$(now_ms)
docker network disconnect "$net_cluster" "$wb"
held_b=$(sql "SELECT count(*) FROM held_b")
echo "B: cut $wb_node from $net_cluster holding $held_b runs"

# The peers cannot even name it; it still reaches PostgreSQL.
[ -z "$(resolve_in "$api" "$(host_of "$wb")")" ] || fail "B: the api still resolves $(host_of "$wb")"
lone() { [ "$(peers_in "$wb")" = 0 ] && [ "$(peers_in "$api")" = "$WORKERS" ]; }
wait_for 30 lone || fail "B: $wb_node has $(peers_in "$wb") peers, the api $(peers_in "$api")"
lost_ms=$(($(now_ms) - cut_b))
echo "figure: B: ms from the cut until both sides saw the link lost (polled): $lost_ms"
# Both sides judge the other alive once NODE_TIMEOUT has passed.
judged_alive() {
  logs_of "$api" "$cut_b" | grep -q "lost $wb_node .* but it lives" &&
    logs_of "$wb" "$cut_b" | grep -q "lost .* but it lives"
}
wait_for 30 judged_alive || fail "B: the api and $wb_node did not both judge the other alive"
alive_ms=$(($(now_ms) - cut_b))
echo "figure: B: ms from the cut until both sides judged the other alive (polled): $alive_ms"
fresh=$(sql "SELECT (now() - last_seen < interval '2s')::int FROM nodes WHERE name = '$wb_node'")
[ "$fresh" = 1 ] || fail "B: $wb_node stopped writing its heartbeat: it lost the database too"
[ "$(node_status "$wb_node")" = up ] || fail "B: $wb_node is $(node_status "$wb_node"), not up"
[ "$(released held_b)" = 0 ] || fail "B: $(released held_b) runs of $wb_node were released while it lived"
[ "$(released held_others)" = 0 ] || fail "B: $(released held_others) runs of the other nodes were released"
for c in $(dc ps -q api scheduler worker); do
  if logs_of "$c" "$cut_b" | grep -q 'declared down'; then
    fail "B: $(node_of "$c") declared a node down: $(logs_of "$c" "$cut_b" | grep 'declared down')"
  fi
done
cut_off=$(metric_in "$api" orchestrator_cluster_peers_cut_off_total)
[ "$cut_off" -ge 1 ] || fail "B: orchestrator_cluster_peers_cut_off_total on the api is $cut_off"

heal_b=$(now_ms)
docker network connect "$net_cluster" "$wb"
wait_for 60 nodes_up || fail "B: not every node up: $(curl -sS "$URL/v1/nodes")"
wait_for 60 all_joined || fail "B: $wb_node did not rejoin"
back_b=$(($(now_ms) - heal_b))
echo "figure: B: ms from the reconnect to $wb_node joined by every peer: $back_b"

# ---- both: every run once ---------------------------------------------------
wait_for 240 all_finished "$total" || fail "runs did not all finish: $(sql "SELECT status, count(*) FROM runs GROUP BY 1")"
check_exactly_once "$total"
check_held held_a
# B: the cut worker finished every run it held, at the attempt it held it
# under, and none of them ran again; its results all passed the fence.
[ "$(done_before held_b)" = "$held_b" ] || fail "B: $wb_node finished $(done_before held_b) of the $held_b runs it held"
[ "$(moved held_b)" = 0 ] || fail "B: $(moved held_b) runs of $wb_node ran again"
stale_b=$(($(metric_in "$wb" orchestrator_stale_completions_total) - stale_b0))
[ "$stale_b" = 0 ] || fail "B: $stale_b results of $wb_node were rejected by the fence"
echo "figure: A: runs held: $held_a, finished before the cut: $(done_before held_a), ran again: $(moved held_a), on another node: $(moved_elsewhere held_a "$wa_node")"
echo "figure: A: ms from the cut to the first of its runs claimed elsewhere: $(first_reclaim_ms held_a "$cut_a")"
echo "figure: A: ms from the cut to the first of its runs executing elsewhere: $(first_restep_ms held_a "$cut_a")"
echo "figure: A: stale completions counted on $wa_node: $stale_a"
echo "figure: B: runs held: $held_b, finished by it: $(done_before held_b), released: $(released held_b), ran again: $(moved held_b); runs of the other nodes released: $(released held_others)"
echo "figure: B: stale completions counted on $wb_node: $stale_b"
echo "PASS worker partition: $total runs succeeded once each; A (no database) down after ${down_a} ms by heartbeat rows, $stale_a late results discarded, back in ${back_a} ms; B (no peers) judged alive by both sides, nothing released, rejoined in ${back_b} ms"
