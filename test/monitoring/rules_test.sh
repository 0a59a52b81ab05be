#!/usr/bin/env bash
# The Prometheus rules and the Alertmanager configuration, proven offline:
#  - promtool check rules on every rule file, promtool test rules on every
#    test file, promtool check config on ops/monitoring/prometheus.yml with
#    the rule files it names;
#  - amtool check-config, and the routing tree sends each severity where the
#    ops spec says;
#  - the inhibitions, against a real Alertmanager on a free loopback port;
#  - the conventions: every alert has a severity, a summary, a description
#    and a runbook annotation naming its section of ops/monitoring/RUNBOOK.md,
#    and a unit test where it fires and one where it does not; every
#    recording rule is named level:metric:operations and has its value tested.
# Installs nothing: a missing tool fails the test with its name.
# Usage: test/monitoring/rules_test.sh   (ctest label monitoring)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

MON=ops/monitoring
RULES_DIR=$MON/alerting/rules
TESTS_DIR=$MON/alerting/tests
AM_CONFIG=$MON/alerting/alertmanager.yml
PROM_CONFIG=$MON/prometheus.yml
RUNBOOK=$MON/RUNBOOK.md

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

# --------------------------------------------------------------- tools
# Debian's Alertmanager binary is prometheus-alertmanager; upstream's is alertmanager.
AM_BIN=$(command -v alertmanager || command -v prometheus-alertmanager || true)
missing=()
command -v promtool >/dev/null 2>&1 || missing+=("promtool (Debian package prometheus)")
command -v amtool >/dev/null 2>&1 || missing+=("amtool (Debian package prometheus-alertmanager)")
[ -n "$AM_BIN" ] || missing+=("alertmanager (Debian package prometheus-alertmanager)")
command -v curl >/dev/null 2>&1 || missing+=("curl")
command -v jq >/dev/null 2>&1 || missing+=("jq")
if ! command -v python3 >/dev/null 2>&1; then
  missing+=("python3")
elif ! python3 -c 'import yaml' 2>/dev/null; then
  missing+=("the python3 yaml module (Debian package python3-yaml)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  printf 'FAIL: missing: %s\n' "${missing[@]}" >&2
  echo "      ops/scripts/install-deps.sh installs them" >&2
  exit 1
fi

TMP=$(mktemp -d)
AM_PID=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$AM_PID" ]; then
    kill "$AM_PID" 2>/dev/null || true
    wait "$AM_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

mapfile -t rule_files < <(find "$RULES_DIR" -maxdepth 1 -name '*.yml' | sort)
mapfile -t test_files < <(find "$TESTS_DIR" -maxdepth 1 -name '*.yml' | sort)
[ "${#rule_files[@]}" -ge 4 ] || fail "found only ${#rule_files[@]} rule files in $RULES_DIR"
[ "${#test_files[@]}" -ge 4 ] || fail "found only ${#test_files[@]} test files in $TESTS_DIR"

# ------------------------------------------------------------ promtool
step "promtool check rules (${#rule_files[@]} files)"
promtool check rules "${rule_files[@]}" || fail "promtool check rules"

step "promtool test rules (${#test_files[@]} files)"
promtool test rules "${test_files[@]}" || fail "promtool test rules"

# prometheus.yml names the rules where the container mounts them
# (/etc/prometheus/rules); a copy pointing at a copy of the rules lets
# promtool check the configuration and every rule file it loads.
step "promtool check config $PROM_CONFIG"
mkdir -p "$TMP/prom/rules"
cp "${rule_files[@]}" "$TMP/prom/rules/"
grep -q '/etc/prometheus/rules/' "$PROM_CONFIG" ||
  fail "$PROM_CONFIG no longer loads rules from /etc/prometheus/rules/: update this test"
sed "s#/etc/prometheus/rules/#$TMP/prom/rules/#g" "$PROM_CONFIG" >"$TMP/prom/prometheus.yml"
out=$(promtool check config "$TMP/prom/prometheus.yml" 2>&1) || {
  echo "$out" >&2
  fail "promtool check config $PROM_CONFIG"
}
echo "$out"
echo "$out" | grep -q "SUCCESS: ${#rule_files[@]} rule files found" ||
  fail "$PROM_CONFIG does not load the ${#rule_files[@]} rule files of $RULES_DIR"

# -------------------------------------------------------------- amtool
step "amtool check-config $AM_CONFIG"
amtool check-config "$AM_CONFIG" || fail "amtool check-config $AM_CONFIG"

step "routing by severity"
for pair in critical:critical warning:warning info:default; do
  severity=${pair%%:*} want=${pair#*:}
  got=$(amtool config routes test --config.file="$AM_CONFIG" "severity=$severity" alertname=Probe 2>/dev/null)
  [ "$got" = "$want" ] || fail "severity=$severity goes to receiver '$got', expected '$want'"
  echo "severity=$severity -> $got"
done

# --------------------------------------------------------- conventions
step "severity, summary, description, runbook section, firing and quiet tests"
python3 - "$RULES_DIR" "$TESTS_DIR" "$RUNBOOK" "$AM_CONFIG" <<'PY' || fail "conventions (see above)"
import glob, os, re, sys
import yaml

rules_dir, tests_dir, runbook_path, am_path = sys.argv[1:5]
problems = []

def slug(heading):
    s = re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower())
    return s.replace(" ", "-")

# Alerts and recording rules, with the file that defines them.
alerts = {}      # name -> set of defining files
records = {}     # name -> set of defining files
for path in sorted(glob.glob(os.path.join(rules_dir, "*.yml"))):
    real = os.path.realpath(path)
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule:
                name = rule["alert"]
                alerts.setdefault(name, set()).add(real)
                labels = rule.get("labels") or {}
                ann = rule.get("annotations") or {}
                where = f"{os.path.basename(path)}: {name}"
                if labels.get("severity") not in ("critical", "warning", "info"):
                    problems.append(f"{where}: severity {labels.get('severity')!r} is not critical, warning or info")
                for key in ("summary", "description", "runbook"):
                    if not str(ann.get(key, "")).strip():
                        problems.append(f"{where}: no {key} annotation")
            elif "record" in rule:
                name = rule["record"]
                records.setdefault(name, set()).add(real)
                if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name):
                    problems.append(f"{os.path.basename(path)}: recording rule {name} is not level:metric:operations")

# The runbook: a heading naming each alert, and the annotation pointing at it.
with open(runbook_path) as f:
    found = [(len(m.group(1)), m.group(2)) for m in re.finditer(r"^(#{1,6})\s+(.+?)\s*$", f.read(), re.M)]
headings = [h for _, h in found]
anchors = {slug(h) for h in headings}
for name in sorted(alerts):
    named = [h for h in headings if re.search(rf"\b{re.escape(name)}\b", h)]
    if not named:
        problems.append(f"{name}: no section in {runbook_path}")
for path in sorted(glob.glob(os.path.join(rules_dir, "*.yml"))):
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            link = str((rule.get("annotations") or {}).get("runbook", ""))
            want = f"{runbook_path}#{slug(rule['alert'])}"
            target, _, anchor = link.partition("#")
            if link != want:
                problems.append(f"{rule['alert']}: runbook annotation {link!r}, expected {want!r}")
            elif anchor not in anchors:
                problems.append(f"{rule['alert']}: runbook annotation {link!r} points at no heading")
# A section (###) for an alert that no longer exists misleads whoever reads it.
for level, h in found:
    if level == 3 and h not in alerts:
        problems.append(f"{runbook_path}: section '{h}' names no alert")

# Unit tests: per alert, a firing and a quiet case in a file that loads the
# alert's rule file (a quiet case proves nothing if the rule is not loaded).
firing, quiet, tested_records = {}, {}, {}
for path in sorted(glob.glob(os.path.join(tests_dir, "*.yml"))):
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    loaded = {os.path.realpath(os.path.join(os.path.dirname(path), r)) for r in doc.get("rule_files", [])}
    for r in loaded:
        if not os.path.exists(r):
            problems.append(f"{os.path.basename(path)}: rule file {r} does not exist")
    for test in doc.get("tests", []):
        for case in test.get("alert_rule_test") or []:
            name = case.get("alertname")
            if not alerts.get(name, set()) & loaded:
                problems.append(f"{os.path.basename(path)}: tests {name}, which no loaded rule file defines")
                continue
            bucket = firing if case.get("exp_alerts") else quiet
            bucket.setdefault(name, []).append(os.path.basename(path))
        for case in test.get("promql_expr_test") or []:
            expr = case.get("expr", "")
            for name, files in records.items():
                if re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) and files & loaded and case.get("exp_samples"):
                    tested_records.setdefault(name, []).append(os.path.basename(path))
for name in sorted(alerts):
    if name not in firing:
        problems.append(f"{name}: no unit test where it fires")
    if name not in quiet:
        problems.append(f"{name}: no unit test where it does not fire (exp_alerts: [])")
for name in sorted(records):
    if name not in tested_records:
        problems.append(f"recording rule {name}: no promql_expr_test checks its value")

# Alertmanager's inhibitions name alerts: a renamed alert would silently
# stop being inhibited, or stop inhibiting.
with open(am_path) as f:
    am = yaml.safe_load(f)
for rule in am.get("inhibit_rules", []):
    for key in ("source_matchers", "target_matchers"):
        for matcher in rule.get(key, []):
            m = re.fullmatch(r'alertname=~?"([^"]*)"', matcher.replace(" ", ""))
            if m:
                for name in m.group(1).split("|"):
                    if name not in alerts:
                        problems.append(f"{am_path}: inhibit rule names {name}, which is no alert")

for p in problems:
    print("  " + p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"{len(alerts)} alerts, each with a runbook section and firing and quiet tests; "
      f"{len(records)} recording rules, each with its value tested")
PY

# ---------------------------------------------------------- inhibitions
step "inhibitions, against Alertmanager ($AM_BIN) on loopback"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AM_URL="http://127.0.0.1:$port"
# --cluster.listen-address= : no gossip port, no peers.
"$AM_BIN" --config.file="$AM_CONFIG" --storage.path="$TMP/am" \
  --web.listen-address="127.0.0.1:$port" --cluster.listen-address= >"$TMP/am.log" 2>&1 &
AM_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$AM_URL/-/ready" >/dev/null 2>&1 && break
  kill -0 "$AM_PID" 2>/dev/null || {
    cat "$TMP/am.log" >&2
    fail "Alertmanager exited"
  }
  sleep 0.2
done
curl -fsS "$AM_URL/-/ready" >/dev/null || fail "Alertmanager not ready on $AM_URL"

# Posts alerts given as "name job instance severity" lines ("-": no such label).
post_alerts() {
  jq -R -s '[split("\n")[] | select(length > 0) | split(" ")
             | {labels: ({alertname: .[0], job: .[1], instance: .[2], severity: .[3]}
                         | with_entries(select(.value != "-")))}]' |
    curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @- "$AM_URL/api/v2/alerts" >/dev/null
}
# Prints "name job instance severity state" per alert, sorted.
alert_states() {
  curl -fsS "$AM_URL/api/v2/alerts" |
    jq -r '.[] | [.labels.alertname, .labels.job, .labels.instance // "-", .labels.severity, .status.state]
               | join(" ")' |
    sort
}
# Waits up to 10 s for the states in $1 (sorted lines), else fails showing both.
expect_states() {
  local want got
  want=$(sort <<<"$1")
  for _ in $(seq 1 50); do
    got=$(alert_states)
    [ "$got" = "$want" ] && return 0
    sleep 0.2
  done
  diff <(echo "$want") <(echo "$got") >&2 || true
  fail "$2"
}

post_alerts <<'EOF'
OrchestratorNoWorker orchestrator-worker - critical
OrchestratorNodeDown orchestrator-worker 10.0.2.5:8080 warning
OrchestratorNodeDown orchestrator-api 10.0.2.2:8080 warning
PostgreSQLTooManyConnections postgres postgres-exporter:9187 critical
PostgreSQLTooManyConnections postgres postgres-exporter:9187 warning
PostgreSQLLongTransaction postgres postgres-exporter:9187 warning
HostMemoryPressure node node-exporter:9100 warning
OrchestratorLeasesRequeued orchestrator-worker - info
EOF
expect_states "$(
  cat <<'EOF'
OrchestratorNoWorker orchestrator-worker - critical active
OrchestratorNodeDown orchestrator-worker 10.0.2.5:8080 warning suppressed
OrchestratorNodeDown orchestrator-api 10.0.2.2:8080 warning active
PostgreSQLTooManyConnections postgres postgres-exporter:9187 critical active
PostgreSQLTooManyConnections postgres postgres-exporter:9187 warning suppressed
PostgreSQLLongTransaction postgres postgres-exporter:9187 warning active
HostMemoryPressure node node-exporter:9100 warning active
OrchestratorLeasesRequeued orchestrator-worker - info active
EOF
)" "no worker must hold back its job's node-down warnings, a critical its own warning, and nothing else"
echo "no worker holds back the workers' node-down warning only; a critical holds back its own warning only"

post_alerts <<'EOF'
PostgreSQLDown postgres postgres-exporter:9187 critical
EOF
expect_states "$(
  cat <<'EOF'
PostgreSQLDown postgres postgres-exporter:9187 critical active
OrchestratorNoWorker orchestrator-worker - critical suppressed
OrchestratorNodeDown orchestrator-worker 10.0.2.5:8080 warning suppressed
OrchestratorNodeDown orchestrator-api 10.0.2.2:8080 warning suppressed
PostgreSQLTooManyConnections postgres postgres-exporter:9187 critical active
PostgreSQLTooManyConnections postgres postgres-exporter:9187 warning suppressed
PostgreSQLLongTransaction postgres postgres-exporter:9187 warning active
HostMemoryPressure node node-exporter:9100 warning active
OrchestratorLeasesRequeued orchestrator-worker - info active
EOF
)" "PostgreSQL down must hold back the no-worker and node-down alerts, and only those"
echo "PostgreSQL down holds back no-worker and node-down, nothing else"

echo "PASS monitoring rules: ${#rule_files[@]} rule files, ${#test_files[@]} test files, Alertmanager routing and inhibitions"
