#!/usr/bin/env bash
# The production stack on the real Docker engine, brought up by deploy.sh:
# replicas, limits, read-only filesystems, internal backend network, secrets
# kept out of the environment, nginx spreading requests over every api
# replica and hiding what must stay inside; an api container crashing costs
# GET clients nothing; deploy.sh replaces every orchestrator container with a
# new image under a steady 50 submissions/s through nginx (no lost or failed
# run, no 5xx for a GET, one run per idempotency key); deploys of an image
# with a bad setting, of one that never gets healthy and of one that cannot
# run a step leave the running version serving (the last by a rollback).
# Usage: test/compose/prod_stack_test.sh   (ctest label compose)
set -euo pipefail
# shellcheck source=test/compose/prod_lib.sh
. "$(dirname "$0")/prod_lib.sh"

# deploy.sh refuses before it touches anything: a secret missing, a secrets
# folder other users can read.
bash "$ROOT/ops/scripts/build-images.sh"
refused() {
  local want=$1 rc=0 out
  out=$(bash "$ROOT/ops/scripts/deploy.sh" production --skip-backup 2>&1) || rc=$?
  if [ "$rc" -ne 1 ] || ! echo "$out" | grep -q "$want"; then
    fail "deploy.sh did not refuse with '$want' (exit $rc): $out"
  fi
}
mv "$SECRETS_DIR/cluster_secret" "$SECRETS_DIR/cluster_secret.away"
refused "cluster_secret is missing"
mv "$SECRETS_DIR/cluster_secret.away" "$SECRETS_DIR/cluster_secret"
chmod 755 "$SECRETS_DIR"
refused "chmod 700"
chmod 700 "$SECRETS_DIR"
[ -z "$(dc ps -q)" ] || fail "a refused deploy started containers"

prod_up

# --- shape of the stack -------------------------------------------------------
for want in api:3 scheduler:2 worker:5 nginx:1 postgres:1 redis:1 prometheus:1 alertmanager:1 \
  postgres-exporter:1 redis-exporter:1 node-exporter:1; do
  n=$(dc ps -q "${want%%:*}" | wc -l)
  [ "$n" -eq "${want##*:}" ] || fail "${want%%:*}: $n containers, want ${want##*:}"
done
wait_for 30 prod_nodes_up 10 || fail "/v1/nodes does not list 10 nodes up: $(api "$URL/v1/nodes")"
worker=$(dc ps -q worker | head -1)
api1=$(dc ps -q api | head -1)
[ "$(docker inspect -f '{{.HostConfig.Memory}}' "$worker")" -eq $((512 * 1024 * 1024)) ] ||
  fail "worker memory limit not applied"
for c in "$worker" "$api1" "$(dc ps -q nginx)" "$(dc ps -q postgres)"; do
  [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$c")" = true ] || fail "$c: root filesystem writable"
done
[ "$(docker network inspect -f '{{.Internal}}' "${COMPOSE_PROJECT_NAME}_backend")" = true ] ||
  fail "backend network is not internal"
# Secrets reach the containers as files only.
for s in postgres_password cluster_secret; do
  if docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$api1" | grep -qF "$(cat "$SECRETS_DIR/$s")"; then
    fail "$s appears in the api container's environment"
  fi
done
# Outside only through nginx: no token, no API; /metrics and debug routes hidden.
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/nodes")
[ "$code" = 401 ] || fail "GET /v1/nodes without a token answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 404 ] || fail "/metrics through nginx answered $code"
hdrs=$(curl -sS -D - -o /dev/null "$URL/health")
echo "$hdrs" | grep -qi '^x-content-type-options: nosniff' || fail "no security headers: $hdrs"
echo "$hdrs" | grep -qi '^x-request-id:' || fail "no request id through nginx: $hdrs"
# nginx itself refuses an oversized body (the orchestrator would too, with
# JSON: the content type tells who answered).
big=$(mktemp)
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$big"
answer=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' -X POST -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' --data-binary @"$big" "$URL/v1/tasks/nap/runs")
rm -f "$big"
[ "${answer%% *}" = 413 ] || fail "a 2 MiB body answered $answer, not 413"
case "$answer" in *json*) fail "a 2 MiB body reached an api replica: $answer" ;; esac

# Prometheus scrapes every replica (DNS discovery) and the three exporters.
targets_up() {
  local up
  up=$(curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/targets?state=active" |
    jq '[.data.activeTargets[] | select(.health == "up") | .labels.job] | group_by(.) | map({(.[0]): length}) | add') || return 1
  [ "$(echo "$up" | jq '[."orchestrator-api", ."orchestrator-scheduler", ."orchestrator-worker", .postgres, .redis, .node] | join(" ")')" = '"3 2 5 1 1 1"' ]
}
wait_for 90 targets_up || fail "Prometheus targets up: $(curl -sS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/targets" | jq -c '[.data.activeTargets[] | {job: .labels.job, health, lastError}]')"

# Prometheus loaded every rule file the stack mounts, and evaluates them
# without errors (a rule whose query fails has health "err").
want_alerts=$(cat "$ROOT"/ops/monitoring/alerting/rules/*.yml | grep -c '^ *- alert:')
want_records=$(cat "$ROOT"/ops/monitoring/alerting/rules/*.yml | grep -c '^ *- record:')
rules_loaded() {
  local rules
  rules=$(curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/rules") || return 1
  [ "$(echo "$rules" | jq '[.data.groups[].rules[] | select(.type == "alerting")] | length')" -eq "$want_alerts" ] &&
    [ "$(echo "$rules" | jq '[.data.groups[].rules[] | select(.type == "recording")] | length')" -eq "$want_records" ] &&
    [ "$(echo "$rules" | jq '[.data.groups[].rules[] | select(.health != "ok")] | length')" -eq 0 ]
}
wait_for 60 rules_loaded || fail "Prometheus rules: want $want_alerts alerts and $want_records recording rules, all healthy: $(curl -sS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/rules" | jq -c '[.data.groups[].rules[] | {name, type, health, lastError}]')"
echo "Prometheus in the stack: $want_alerts alerting and $want_records recording rules loaded, all evaluating"

# --- nginx spreads over every api replica --------------------------------------
served=$(for _ in $(seq 60); do curl -fsS "$URL/health" | jq -r '.node'; done | sort | uniq -c)
echo "health answers per api node through nginx:"$'\n'"$served"
[ "$(echo "$served" | wc -l)" -eq 3 ] || fail "nginx spread 60 requests over $(echo "$served" | wc -l) api nodes, not 3"

# --- an api container dying costs GET clients nothing -------------------------
get_loop() {
  local out=$1 i
  for i in $(seq "$2"); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Authorization: Bearer $TOKEN" "$URL/v1/nodes"
    [ $((i % 10)) -ne 0 ] || sleep 0.05
  done >"$out"
}
codes=$(mktemp)
get_loop "$codes" 400 &
loop=$!
wait_for 10 test -s "$codes" || fail "GET loop did not start"
crash_container "$api1"
wait "$loop"
bad=$(grep -vc '^200$' "$codes" || true)
echo "figure: GETs while an api container crashed: $(wc -l <"$codes"), not 200: $bad"
[ "$bad" -eq 0 ] || fail "GETs failed while an api container died: $(sort "$codes" | uniq -c)"
rm -f "$codes"
restarted() {
  [ "$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$api1")" = "running healthy" ]
}
wait_for 120 restarted || fail "the crashed api container did not come back healthy"

# --- rolling deploy under 50 submissions/s -------------------------------------
api -X PUT "$URL/v1/tasks/nap" -H 'Content-Type: application/json' \
  -d '{"retry":{"max_attempts":1},"steps":[{"name":"nap","exec":{"command":["/bin/sleep","0.1"]}}]}' >/dev/null ||
  fail "task"
new_image=orchestrator:deploytest-$COMPOSE_PROJECT_NAME
derived_image "$new_image" "LABEL org.opencontainers.image.version=deploy-test-$$"
new_id=$(docker image inspect -f '{{.Id}}' "$new_image")
load_dir=$(mktemp -d)
python3 "$ROOT/test/compose/loadgen.py" "$URL" "$TOKEN" "$load_dir/stop" "$load_dir/summary.json" \
  --rate 50 --get-rate 20 >/dev/null &
load=$!
some_runs() { [ "$(psql_q "SELECT count(*) FROM runs WHERE task = 'nap'")" -ge 100 ]; }
wait_for 30 some_runs || fail "the load does not reach the stack"
start=$(now_ms)
bash "$ROOT/ops/scripts/deploy.sh" production --image "$new_image" || fail "deploy.sh under load"
deploy_ms=$(($(now_ms) - start))
# The new containers take the steady load for a while (250 more runs) before it stops.
after=$(psql_q "SELECT count(*) FROM runs WHERE task = 'nap'")
more_runs() { [ "$(psql_q "SELECT count(*) FROM runs WHERE task = 'nap'")" -ge $((after + 250)) ]; }
wait_for 30 more_runs || fail "submissions stalled after the deploy"
touch "$load_dir/stop"
wait "$load" || fail "load generator"
summary=$(cat "$load_dir/summary.json")
echo "figure: rolling deploy of 10 orchestrator containers under load took $deploy_ms ms"
echo "figure: load during the deploy: $summary"
all_on "$new_id" || fail "not every orchestrator container runs the new image: $(image_of_services)"
[ "$(echo "$summary" | jq '.unacked')" -eq 0 ] || fail "submissions never acknowledged: $summary"
[ "$(echo "$summary" | jq '.get_5xx')" -eq 0 ] || fail "GETs answered 5xx during the deploy: $summary"
[ "$(echo "$summary" | jq '.distinct_runs_per_key')" -eq 0 ] || fail "a key got two runs: $summary"
rate=$(echo "$summary" | jq '.submit_rate')
awk -v r="$rate" 'BEGIN { exit !(r >= 45) }' || fail "the load ran at $rate/s, not 50/s"
acked=$(echo "$summary" | jq '.acknowledged')
cut -f1 "$(echo "$summary" | jq -r '.keys')" | sort -u >"$load_dir/keys"
psql_q "SELECT idempotency_key FROM runs WHERE task = 'nap' AND idempotency_key IS NOT NULL" | sort -u >"$load_dir/db_keys"
missing=$(comm -23 "$load_dir/keys" "$load_dir/db_keys" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing acknowledged runs are not in the database"
dupes=$(psql_q "SELECT count(*) FROM (SELECT 1 FROM runs WHERE task = 'nap' GROUP BY idempotency_key HAVING count(*) > 1) d")
[ "$dupes" -eq 0 ] || fail "$dupes idempotency keys have more than one run"
all_finished() { [ "$(psql_q "SELECT count(*) FROM runs WHERE task = 'nap' AND status IN ('pending', 'running')")" -eq 0 ]; }
wait_for 120 all_finished || fail "runs still unfinished: $(psql_q "SELECT status, count(*) FROM runs GROUP BY 1")"
failed=$(psql_q "SELECT count(*) FROM runs WHERE task = 'nap' AND status <> 'succeeded'")
[ "$failed" -eq 0 ] || fail "$failed runs did not succeed: $(psql_q "SELECT status, error FROM runs WHERE status <> 'succeeded' LIMIT 5")"
echo "figure: deploy totals: $acked runs acknowledged, all succeeded once; $(echo "$summary" | jq '.post_errors') POST tries retried, $(echo "$summary" | jq '.gets') GETs without a 5xx"
rm -rf "$load_dir"

# --- deploys that must fail leave the running version serving -------------------
# A configuration the new image rejects: stopped by the pre-check.
broken=orchestrator:broken-$COMPOSE_PROJECT_NAME
derived_image "$broken" 'ENV WORKER_PREFETCH=not-a-number'
rc=0
out=$(bash "$ROOT/ops/scripts/deploy.sh" production --image "$broken" --skip-backup 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "deploy.sh of an image with a bad setting exited $rc, not 1: $out"
echo "$out" | grep -q "WORKER_PREFETCH" || fail "deploy.sh did not name the bad setting: $out"
all_on "$new_id" || fail "after a rejected deploy, containers do not all run the previous image: $(image_of_services)"
# An image whose containers never become healthy: stopped by the rolling
# replacement, the new containers removed, the old ones untouched.
unready=orchestrator:unready-$COMPOSE_PROJECT_NAME
derived_image "$unready" 'HEALTHCHECK --interval=1s --timeout=1s --start-period=1s --retries=2 CMD ["/bin/false"]'
rc=0
out=$(ROLL_HEALTH_TIMEOUT=90 bash "$ROOT/ops/scripts/deploy.sh" production --image "$unready" --skip-backup 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "deploy.sh of an image that never gets healthy exited $rc, not 1: $out"
echo "$out" | grep -q "new containers not healthy" || fail "deploy.sh did not report the unhealthy containers: $out"
all_on "$new_id" || fail "after a failed rolling deploy, containers do not all run the previous image: $(image_of_services)"
[ "$(dc ps -q scheduler | wc -l)" -eq 2 ] || fail "the failed deploy left $(dc ps -q scheduler | wc -l) scheduler containers"
# An image that starts and gets healthy but cannot run a step: the smoke test
# fails after the replacement, and deploy.sh rolls every container back.
nosteps=orchestrator:nosteps-$COMPOSE_PROJECT_NAME
derived_image "$nosteps" $'USER root\nRUN rm /bin/echo\nUSER orchestrator'
rc=0
out=$(bash "$ROOT/ops/scripts/deploy.sh" production --image "$nosteps" --skip-backup 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "deploy.sh of an image that cannot run steps exited $rc, not 1: $out"
echo "$out" | grep -q "smoke test failed" || fail "deploy.sh did not report the failed smoke test: $out"
echo "$out" | grep -q "rolled back to" || fail "deploy.sh did not roll back: $out"
all_on "$new_id" || fail "after the rollback, containers do not all run the previous image: $(image_of_services)"
bash "$ROOT/ops/scripts/smoke-test.sh" production || fail "smoke test after the failed deploys"

echo "PASS prod stack: 17 services, nginx over 3 api replicas, api kill without GET errors, rolling deploy under load ($acked runs), failed deploys kept the running version"
