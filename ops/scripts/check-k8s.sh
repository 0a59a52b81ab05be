#!/usr/bin/env bash
# Validates the Kubernetes manifests offline: builds the checker in
# ops/k8s/check (Go; modules come through the Go module proxy), runs its vet,
# format check and tests, then decodes every manifest strictly into its
# k8s.io/api type and checks the project's rules, printing every problem.
# Usage: check-k8s.sh [--help] [--no-test] [PATH ...]   (default PATH: ops/k8s)
#   --no-test   skip vet, gofmt and go test (only build and check)
# Exit codes: 0 clean, 1 problems or failed tests, 2 usage error or no Go.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK_DIR=$ROOT/ops/k8s/check
run_tests=true
paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      sed -n '2,8p' "$0"
      exit 0
      ;;
    --no-test) run_tests=false ;;
    --)
      shift
      paths+=("$@")
      break
      ;;
    -*)
      echo "check-k8s: unknown option '$1' (see --help)" >&2
      exit 2
      ;;
    *) paths+=("$1") ;;
  esac
  shift
done
[ ${#paths[@]} -gt 0 ] || paths=("$ROOT/ops/k8s")

# Go's official tarball lives in /usr/local/go, which a login PATH may lack.
case ":$PATH:" in
  *:/usr/local/go/bin:*) ;;
  *) PATH=$PATH:/usr/local/go/bin ;;
esac
if ! command -v go >/dev/null 2>&1; then
  echo "check-k8s: no Go toolchain (go) on PATH or in /usr/local/go/bin; ops/k8s/check needs the Go of its go.mod" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if $run_tests; then
  echo "check-k8s: go vet, gofmt and go test in ops/k8s/check ($(go env GOVERSION))"
  (cd "$CHECK_DIR" && go vet ./...)
  unformatted=$(cd "$CHECK_DIR" && gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "check-k8s: not gofmt'd: $unformatted" >&2
    exit 1
  fi
  (cd "$CHECK_DIR" && go test -count=1 ./...)
fi
(cd "$CHECK_DIR" && go build -o "$tmp/k8s-check" .)

echo "check-k8s: checking ${paths[*]}"
status=0
"$tmp/k8s-check" "${paths[@]}" || status=$?
exit "$status"
