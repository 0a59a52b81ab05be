#!/usr/bin/env bash
# The ops scripts' command lines: --help prints the usage and exits 0; an
# unknown, malformed or hostile argument exits 2 with a message naming it,
# before anything is touched (no Docker call is needed to refuse).
# Usage: test/ops/ops_scripts_cli_test.sh   (ctest label ops)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=$ROOT/ops/scripts
passed=0
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect CODE PATTERN SCRIPT ARGS...: exit code CODE, output matching PATTERN.
expect() {
  local want=$1 pattern=$2 script=$3 rc=0 out
  shift 3
  out=$(bash "$S/$script" "$@" 2>&1 </dev/null) || rc=$?
  [ "$rc" -eq "$want" ] || fail "$script $*: exit $rc, want $want: $out"
  echo "$out" | grep -qE -- "$pattern" || fail "$script $*: output does not match '$pattern': $out"
  passed=$((passed + 1))
}

for s in deploy.sh rollback.sh smoke-test.sh backup.sh restore.sh health-check.sh build-images.sh \
  base-image.sh check-k8s.sh; do
  expect 0 'Usage|usage' "$s" --help
done
long=$(head -c 100000 /dev/zero | tr '\0' 'x')
for s in deploy.sh rollback.sh smoke-test.sh backup.sh; do
  expect 2 "unknown .*'--bogus'" "$s" --bogus
  expect 2 "unknown" "$s" "$long"
  # shellcheck disable=SC2016  # meant literally: it must not run
  expect 2 "unknown" "$s" '$(touch /tmp/ops-cli-pwned)'
  expect 2 "unknown" "$s" '../../etc/passwd'
done
[ ! -e /tmp/ops-cli-pwned ] || fail "an argument was executed"
expect 2 "--image needs a value" deploy.sh --image
expect 2 "--image needs a value" deploy.sh --image ''
expect 2 "--image needs a value" rollback.sh --image
expect 2 "needs a value" backup.sh --dir
expect 2 "whole number" backup.sh --keep-days -3
expect 2 "whole number" backup.sh --keep-days '1;rm -rf /'
expect 2 "unknown environment" backup.sh --env staging
expect 2 "which backup" restore.sh
expect 2 "unknown" restore.sh /nonexistent everything
expect 2 "no backup folder" restore.sh /nonexistent/backup postgres
expect 2 "unknown" health-check.sh --bogus
TIMEOUT=0 expect 2 "TIMEOUT" health-check.sh
TIMEOUT=abc expect 2 "TIMEOUT" health-check.sh
echo "PASS ops scripts cli: $passed checks"
