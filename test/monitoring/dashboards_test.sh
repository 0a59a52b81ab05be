#!/usr/bin/env bash
# The Grafana dashboards pass ops/scripts/check-dashboards.sh (the checker's
# own tests, then the dashboards against the provisioning and the metrics the
# code registers), the provisioning matches the compose file's mounts, and the
# check can fail: copies of the dashboards each broken in one way must make it
# exit 1 with a line naming the file and the fault.
# Usage: bash test/monitoring/dashboards_test.sh   (ctest label monitoring)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK=$ROOT/ops/scripts/check-dashboards.sh
GRAFANA=$ROOT/ops/monitoring/grafana
COMPOSE=$ROOT/ops/docker-compose.prod.yml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}

command -v jq >/dev/null 2>&1 || {
  echo "dashboards_test: jq is needed (ops/scripts/install-deps.sh installs it)" >&2
  exit 1
}

# 1. The real dashboards, with the checker's own tests.
if bash "$CHECK" --exprs "$tmp/exprs.tsv"; then
  pass "check-dashboards.sh: checker tests and the dashboards"
else
  fail "check-dashboards.sh on the dashboards exited $?"
fi

# 2. The expression list a live-Prometheus test reads: three fields a line,
# every dashboard present, no variable left unsubstituted (${1} is a
# label_replace group, not a variable).
if [ -s "$tmp/exprs.tsv" ]; then
  bad=$(awk -F'\t' 'NF != 3 || $1 == "" || $2 == "" || $3 == "" { print NR": "$0 }' "$tmp/exprs.tsv")
  left=$(cut -f3 "$tmp/exprs.tsv" | sed 's/\${1}//g' | grep -n '\$' || true)
  missing=""
  for f in "$GRAFANA"/dashboards/*.json; do
    uid=$(jq -r .uid "$f")
    grep -q "^$uid	" "$tmp/exprs.tsv" || missing+=" $uid"
  done
  if [ -n "$bad$left$missing" ]; then
    fail "expression list: malformed lines: ${bad:-none}; variables left: ${left:-none}; dashboards without a line:${missing:- none}"
  else
    pass "expression list: $(wc -l <"$tmp/exprs.tsv") expressions from $(cut -f1 "$tmp/exprs.tsv" | sort -u | wc -l) dashboards"
  fi
else
  fail "expression list: empty or missing"
fi

# 3. The provisioning is where the compose file mounts it, the dashboard
# provider reads where the dashboards are mounted, and the data source URL
# names the compose service.
grafana_service=$(awk '/^  grafana:/ { on = 1; next } on && /^  [a-z]/ { exit } on' "$COMPOSE")
provider_path=$(awk '$1 == "path:" { print $2 }' "$GRAFANA/provisioning/dashboards/dashboards.yml")
ds_url=$(awk '$1 == "url:" { print $2 }' "$GRAFANA/provisioning/datasources/datasources.yml")
if ! grep -q -- '- ./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro' <<<"$grafana_service"; then
  fail "compose: service grafana does not mount ./monitoring/grafana/provisioning at /etc/grafana/provisioning"
elif ! grep -q -- "- ./monitoring/grafana/dashboards:$provider_path:ro" <<<"$grafana_service"; then
  fail "compose: service grafana does not mount ./monitoring/grafana/dashboards at the provider's path ($provider_path)"
elif [ "$ds_url" != "http://prometheus:9090" ] || ! grep -q '^  prometheus:' "$COMPOSE"; then
  fail "datasource url '$ds_url' is not the compose service prometheus on 9090"
else
  pass "compose mounts match the provisioning (provider path $provider_path, datasource $ds_url)"
fi

# A fresh copy of the dashboards.
copy() {
  rm -rf "$tmp/d"
  cp -r "$GRAFANA/dashboards" "$tmp/d"
}

# run_broken NAME FILE PATTERN [check-dashboards options]: the copy in $tmp/d,
# broken in FILE, makes the check exit 1 with a line matching PATTERN.
run_broken() {
  local name=$1 file=$2 pattern=$3 out status=0
  shift 3
  if cmp -s "$GRAFANA/dashboards/$file" "$tmp/d/$file"; then
    fail "$name: the edit changed nothing in $file"
    return
  fi
  out=$(bash "$CHECK" --no-test "$@" "$tmp/d" 2>&1) || status=$?
  if [ "$status" -ne 1 ]; then
    fail "$name: exit $status, want 1"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<<"$out"; then
    fail "$name: no line matches /$pattern/"$'\n'"$out"
  else
    pass "$name: exit 1, $(grep -Em1 -- "$pattern" <<<"$out")"
  fi
}

# expect_failure NAME FILE JQ-FILTER PATTERN: FILE of a fresh copy rewritten
# by JQ-FILTER.
expect_failure() {
  local name=$1 file=$2 filter=$3 pattern=$4
  copy
  jq "$filter" "$GRAFANA/dashboards/$file" >"$tmp/edit.json"
  mv "$tmp/edit.json" "$tmp/d/$file"
  run_broken "$name" "$file" "$pattern"
}

copy
if out=$(bash "$CHECK" --no-test "$tmp/d" 2>&1); then
  pass "an unchanged copy is clean"
else
  fail "an unchanged copy is not clean"$'\n'"$out"
fi

# The faults named in the issue, then the ones that slip past a glance.
expect_failure "duplicated panel id (inside a collapsed row)" task-performance.json \
  '(.panels[] | select(.type == "row" and .collapsed) | .panels[0].id) = 2' \
  'task-performance\.json: panels\[[0-9]+\]\.panels\[0\] panel 2 .*: id 2 is also the id of panels\[1\] panel 2'
expect_failure "panel without expr" actors.json 'del(.panels[1].targets[0].expr)' \
  'actors\.json: panels\[1\] panel [0-9]+ "[^"]+" targets\[0\]: has no expr'
expect_failure "wrong datasource uid" system-health.json '.panels[1].datasource.uid = "Prometheus"' \
  'system-health\.json: panels\[1\] panel [0-9]+ .*: datasource uid "Prometheus" is not provisioned \(provisioned uids: prometheus\)'
expect_failure "bad PromQL" orchestrator-overview.json \
  '.panels[1].targets[0].expr = "sum(rate(orchestrator_tasks_total[5m])"' \
  'orchestrator-overview\.json: panels\[1\] .*targets\[0\]: PromQL does not parse: .*unclosed left parenthesis'
# shellcheck disable=SC2016 # $actor is Grafana's variable, not the shell's
expect_failure "undefined variable" actors.json \
  '.panels[1].targets[0].expr |= sub("\\$actor"; "$actors")' \
  'actors\.json: panels\[1\] .*targets\[0\]: uses \$actors, which is not a variable of this dashboard'
expect_failure "panel without unit" task-performance.json 'del(.panels[1].fieldConfig.defaults.unit)' \
  'task-performance\.json: panels\[1\] .*: has no unit'
expect_failure "metric the code does not register" orchestrator-overview.json \
  '.panels[1].targets[0].expr = "sum(orchestrator_queue_length)"' \
  'orchestrator-overview\.json: .*names orchestrator_queue_length, which .*actors/metrics\.cpp does not register'
expect_failure "misspelt field (strict decoding)" actors.json '.panels[1].fieldConfig.defaults.custom.lineWidht = 2' \
  "actors\.json: does not decode as a Grafana dashboard: panels\[1\]\.fieldConfig\.defaults\.custom\.GraphFieldConfig: unexpected field 'lineWidht'"
expect_failure "legacy graph panel" system-health.json '.panels[1].type = "graph"' \
  'system-health\.json: panels\[1\] .*: type "graph" is not a panel plugin of Grafana 10/11'
expect_failure "uid shared by two dashboards" actors.json '.uid = "system-health"' \
  'uid: "system-health" is also the uid of'

# The provisioned uid changed: every panel now points at nothing.
cp -r "$GRAFANA/provisioning" "$tmp/prov"
sed -i 's/^    uid: prometheus$/    uid: prometheus-main/' "$tmp/prov/datasources/datasources.yml"
copy
out=$(bash "$CHECK" --no-test --provisioning "$tmp/prov" "$tmp/d" 2>&1) && status=0 || status=$?
if [ "$status" -eq 1 ] && grep -q 'datasource uid "prometheus" is not provisioned (provisioned uids: prometheus-main)' <<<"$out"; then
  pass "provisioned uid changed: exit 1, $(grep -c 'is not provisioned' <<<"$out") references rejected"
else
  fail "provisioned uid changed: exit $status"$'\n'"$out"
fi

# Syntax the Prometheus parser module accepts (Prometheus 3 quoted metric
# names) but Debian's older Prometheus does not: only promtool catches it.
if command -v promtool >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # $actor is Grafana's variable, not the shell's
  expect_failure "syntax Debian's Prometheus does not parse (promtool)" actors.json \
    '.panels[1].targets[0].expr = "sum by (actor) ({\"orchestrator_actor_messages_total\", actor=~\"$actor\"})"' \
    'group "actors / Messages handled per second by actor #[0-9]+".*could not parse expression'
else
  echo "SKIP: promtool not installed (Debian package prometheus): the older-parser check is not run"
fi

echo "dashboards_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
