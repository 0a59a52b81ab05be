#!/usr/bin/env bash
# Shared by the compose tests that take a worker away without killing it
# (worker_pause_test.sh, worker_partition_test.sh): which node a container
# is, what it holds, what its own /metrics and /health say, and the checks
# that every acknowledged run succeeded with exactly one recorded completion.
# Source it after lib.sh, once the stack is up.
# shellcheck disable=SC2034  # variables used by the sourcing scripts

# SQL straight through `docker exec` into the stack's PostgreSQL: docker-compose
# takes a second or more to start on a busy machine, too slow for polling or
# for a snapshot taken at a given moment.
PG_CONTAINER=""
sql() {
  [ -n "$PG_CONTAINER" ] || PG_CONTAINER=$(dc ps -q postgres)
  docker exec "$PG_CONTAINER" psql -U orchestrator -d orchestrator -tAc "$1"
}

# The node name of a container: its host name plus the stable suffix.
node_of() {
  local host
  host=$(docker inspect -f '{{.Config.Hostname}}' "$1")
  sql "SELECT name FROM nodes WHERE name LIKE '$host-%'"
}

# GET $2 on the container's own HTTP port, body only. The port is not
# published and the runtime image has no curl, but it has bash: /dev/tcp.
http_in() {
  # shellcheck disable=SC2016  # expanded by the container's bash
  docker exec "$1" timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 &&
    printf "GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$0" >&3 &&
    cat <&3' "$2" | tr -d '\r' | sed '1,/^$/d'
}

# A counter or gauge without labels from the container's /metrics (0 if absent).
metric_in() {
  http_in "$1" /metrics | awk -v m="$2" '$1 == m { v = $2 } END { printf "%d\n", v + 0 }'
}

# How many peers the container's cluster agent has joined (its /health).
peers_in() { http_in "$1" /health | jq -r '.cluster.peers // -1'; }

# The node holds at least $2 runs (executing or prefetched: both are
# `running` in the database).
running_on() {
  [ "$(sql "SELECT count(*) FROM runs WHERE status = 'running' AND node = '$1'")" -ge "$2" ]
}

# Keeps the runs leased to node $2 (id, attempt, lost leases) in table $1.
snapshot_held() {
  sql "CREATE TABLE $1 AS SELECT id, attempt, lost_leases FROM runs WHERE status = 'running' AND node = '$2'" >/dev/null
}

# Runs of table $1 whose lease was taken back since the snapshot (released by
# a peer, or expired): one more lost lease.
released() { sql "SELECT count(*) FROM $1 h JOIN runs r USING (id) WHERE r.lost_leases > h.lost_leases"; }

# Runs of table $1 the node finished itself before it was taken away: their
# completion at the snapshot's attempt is recorded.
done_before() { sql "SELECT count(*) FROM $1 h JOIN run_steps s ON s.run_id = h.id AND s.attempt = h.attempt"; }

# Every run of table $1 either was finished by its node before it was taken
# away (recorded at the snapshot's attempt) or ran again (a later attempt).
check_held() {
  local held finished again
  held=$(sql "SELECT count(*) FROM $1")
  finished=$(done_before "$1")
  again=$(moved "$1")
  [ $((finished + again)) -eq "$held" ] ||
    fail "of the $held runs in $1, $finished were finished by their node and only $again ran again"
  [ "$again" -gt 0 ] || fail "none of the $held runs in $1 ran again"
}

# Runs of table $1 claimed again since the snapshot: a later attempt.
moved() { sql "SELECT count(*) FROM $1 h JOIN runs r USING (id) WHERE r.attempt > h.attempt"; }
# ... and, of those, how many ended on another node than $2.
moved_elsewhere() {
  sql "SELECT count(*) FROM $1 h JOIN runs r USING (id) WHERE r.attempt > h.attempt AND r.node <> '$2'"
}

# Milliseconds from $2 (epoch ms) to the first claim of a run of table $1 by a
# later attempt, and to the first step of such an attempt starting.
first_reclaim_ms() {
  sql "SELECT (extract(epoch FROM min(r.started_at)) * 1000)::bigint - $2
       FROM $1 h JOIN runs r USING (id) WHERE r.attempt > h.attempt"
}
first_restep_ms() {
  sql "SELECT (extract(epoch FROM min(s.started_at)) * 1000)::bigint - $2
       FROM $1 h JOIN run_steps s ON s.run_id = h.id AND s.attempt > h.attempt"
}

node_status() { sql "SELECT status FROM nodes WHERE name = '$1'"; }
# Milliseconds from $2 to the moment the node's row was marked down.
down_after_ms() { sql "SELECT coalesce((extract(epoch FROM down_at) * 1000)::bigint - $2, -1) FROM nodes WHERE name = '$1'"; }

# Every orchestrator container has joined all the others (their /health).
ORCHS=""
all_joined() {
  local c
  [ -n "$ORCHS" ] || ORCHS=$(dc ps -q api scheduler worker)
  for c in $ORCHS; do
    [ "$(peers_in "$c")" = $((1 + WORKERS)) ] || return 1
  done
}

# Every run submitted so far has finished ($1 runs in all).
all_finished() {
  [ "$(sql "SELECT count(*) FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled')")" -eq "$1" ]
}

# Every run succeeded, and its one recorded completion is that of its last
# attempt: one step row per run (the task has one step), at the run's
# attempt. A late result of an earlier attempt that got through the fence
# would add a row at that attempt (or fail the run's final write).
check_exactly_once() {
  local total=$1 ok bad
  ok=$(sql "SELECT count(*) FROM runs WHERE status = 'succeeded'")
  [ "$ok" -eq "$total" ] || fail "$ok of $total runs succeeded: $(sql "SELECT status, error_code, count(*) FROM runs GROUP BY 1, 2")"
  bad=$(sql "SELECT count(*) FROM runs r WHERE
    (SELECT count(*) FROM run_steps s WHERE s.run_id = r.id) <> 1 OR NOT EXISTS
    (SELECT 1 FROM run_steps s WHERE s.run_id = r.id AND s.attempt = r.attempt AND s.status = 'succeeded')")
  [ "$bad" -eq 0 ] || fail "$bad runs without exactly one recorded completion for their last attempt"
}
