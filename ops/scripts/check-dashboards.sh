#!/usr/bin/env bash
# Validates the Grafana dashboards offline (Grafana is not packaged by Debian):
# builds the checker in ops/monitoring/grafana/check (Go; modules come through
# the Go module proxy), runs its vet, format check and tests, then decodes
# every dashboard strictly into the Grafana Foundation SDK's types and checks
# it against the provisioning and the metrics actors/metrics.cpp registers.
# Every PromQL expression is parsed by the Prometheus parser (Go module), and
# by promtool too when Debian's prometheus package is installed.
# Usage: check-dashboards.sh [--help] [--no-test] [--exprs FILE] [--provisioning DIR] [PATH ...]
#   --no-test            skip vet, gofmt and go test (only build and check)
#   --exprs FILE         also write every expression: dashboard TAB panel TAB PromQL
#   --provisioning DIR   Grafana provisioning (default: ops/monitoring/grafana/provisioning)
#   PATH                 dashboard files or directories (default: ops/monitoring/grafana/dashboards)
# Exit codes: 0 clean, 1 problems or failed tests, 2 usage error or no Go.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GRAFANA=$ROOT/ops/monitoring/grafana
CHECK_DIR=$GRAFANA/check
run_tests=true
exprs=""
provisioning=$GRAFANA/provisioning
paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      sed -n '2,14p' "$0"
      exit 0
      ;;
    --no-test) run_tests=false ;;
    --exprs)
      [ $# -ge 2 ] || {
        echo "check-dashboards: --exprs needs a file" >&2
        exit 2
      }
      exprs=$2
      shift
      ;;
    --provisioning)
      [ $# -ge 2 ] || {
        echo "check-dashboards: --provisioning needs a directory" >&2
        exit 2
      }
      provisioning=$2
      shift
      ;;
    --)
      shift
      paths+=("$@")
      break
      ;;
    -*)
      echo "check-dashboards: unknown option '$1' (see --help)" >&2
      exit 2
      ;;
    *) paths+=("$1") ;;
  esac
  shift
done
[ ${#paths[@]} -gt 0 ] || paths=("$GRAFANA/dashboards")

# Go's official tarball lives in /usr/local/go, which a login PATH may lack.
case ":$PATH:" in
  *:/usr/local/go/bin:*) ;;
  *) PATH=$PATH:/usr/local/go/bin ;;
esac
if ! command -v go >/dev/null 2>&1; then
  echo "check-dashboards: no Go toolchain (go) on PATH or in /usr/local/go/bin; $CHECK_DIR needs the Go of its go.mod" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "$exprs" ] || exprs=$tmp/exprs.tsv

if $run_tests; then
  echo "check-dashboards: go vet, gofmt and go test in ops/monitoring/grafana/check ($(go env GOVERSION))"
  (cd "$CHECK_DIR" && go vet ./...)
  unformatted=$(cd "$CHECK_DIR" && gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "check-dashboards: not gofmt'd: $unformatted" >&2
    exit 1
  fi
  (cd "$CHECK_DIR" && go test -count=1 ./...)
fi
(cd "$CHECK_DIR" && go build -o "$tmp/grafana-check" .)

echo "check-dashboards: checking ${paths[*]}"
status=0
"$tmp/grafana-check" --provisioning "$provisioning" \
  --metrics-source "$ROOT/actors/metrics.cpp" --exprs "$exprs" "${paths[@]}" || status=$?
[ "$status" -eq 0 ] || exit "$status"

# The Go parser is Prometheus's newest; the Prometheus that runs the queries
# is Debian's, older, and may not know a newer function or syntax. promtool
# has no parse-only command, so each expression becomes a recording rule of
# its own group (named after its panel) and `promtool check rules` parses them.
if command -v promtool >/dev/null 2>&1; then
  rules=$tmp/dashboard-exprs.rules.yml
  yaml_quote() { printf "'%s'" "${1//\'/\'\'}"; }
  {
    echo "groups:"
    n=0
    while IFS=$'\t' read -r dash title expr; do
      n=$((n + 1))
      echo "  - name: $(yaml_quote "$dash / $title #$n")"
      echo "    rules:"
      echo "      - record: dashboard_expr_$n"
      echo "        expr: $(yaml_quote "$expr")"
    done <"$exprs"
  } >"$rules"
  if out=$(promtool check rules "$rules" 2>&1); then
    echo "check-dashboards: promtool ($(promtool --version 2>&1 | head -n1)) parses every expression"
  else
    echo "$out" | grep -v '^Checking ' >&2
    echo "check-dashboards: promtool check rules refused an expression (group: dashboard / panel #line)" >&2
    exit 1
  fi
else
  echo "check-dashboards: promtool not installed: expressions parsed by the Go parser only"
fi
