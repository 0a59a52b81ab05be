#!/usr/bin/env bash
# The Kubernetes manifests pass ops/scripts/check-k8s.sh (the checker's own
# tests, then ops/k8s), and the check can fail: copies of ops/k8s each broken
# in one way must make it exit 1 naming the file and the fault.
# Usage: bash test/k8s/k8s_manifests_test.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECK=$ROOT/ops/scripts/check-k8s.sh
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

if bash "$CHECK"; then
  pass "check-k8s.sh: checker tests and ops/k8s"
else
  fail "check-k8s.sh on ops/k8s exited $?"
fi

# A fresh copy of the manifests (without the checker and its bad testdata).
copy() {
  rm -rf "$tmp/k8s"
  cp -r "$ROOT/ops/k8s" "$tmp/k8s"
  rm -rf "$tmp/k8s/check"
}

# expect_failure NAME FILE SED-SCRIPT PATTERN: the copy with SED-SCRIPT
# applied to FILE makes the check exit 1 with a line matching PATTERN.
expect_failure() {
  local name=$1 file=$2 script=$3 pattern=$4 out status=0
  copy
  sed -i -e "$script" "$tmp/k8s/$file"
  if cmp -s "$ROOT/ops/k8s/$file" "$tmp/k8s/$file"; then
    fail "$name: the sed script changed nothing in $file"
    return
  fi
  out=$(bash "$CHECK" --no-test "$tmp/k8s" 2>&1) || status=$?
  if [ "$status" -ne 1 ]; then
    fail "$name: exit $status, want 1"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<<"$out"; then
    fail "$name: no line matches /$pattern/"$'\n'"$out"
  else
    pass "$name: exit 1, $(grep -Em1 -- "$pattern" <<<"$out")"
  fi
}

copy
if out=$(bash "$CHECK" --no-test "$tmp/k8s" 2>&1); then
  pass "an unchanged copy is clean"
else
  fail "an unchanged copy is not clean"$'\n'"$out"
fi

expect_failure "misspelt field" deployments/worker.yml 's/readinessProbe:/readinessProbes:/' \
  'deployments/worker\.yml:[0-9]+: Deployment/orchestrator-worker: unknown field "spec\.template\.spec\.containers\[0\]\.readinessProbes"'
expect_failure "wrong type" deployments/api.yml 's/replicas: 3/replicas: three/' \
  'deployments/api\.yml:[0-9]+: Deployment/orchestrator-api: .*cannot unmarshal string into .*spec\.replicas of type int32'
expect_failure "grace shorter than SHUTDOWN_GRACE" configmap.yml 's/SHUTDOWN_GRACE: 25s/SHUTDOWN_GRACE: 45s/' \
  'deployments/scheduler\.yml:[0-9]+: Deployment/orchestrator-scheduler: terminationGracePeriodSeconds 40 is not longer than SHUTDOWN_GRACE \(45s\)'
expect_failure "dangling secret key" secret.template.yml 's/^  cluster-secret:/  cluster_secret:/' \
  'Deployment/orchestrator-api: .*CLUSTER_SECRET_FILE=/run/secrets/orchestrator/cluster-secret: Secret/orchestrator-secrets has no key "cluster-secret"'
expect_failure "service selects nothing" services.yml 's/component: api$/component: apis/' \
  'services\.yml:[0-9]+: Service/orchestrator-api: spec\.selector .* selects the pods of no Deployment'
expect_failure "unknown kind" pdb.yml 's#^apiVersion: policy/v1$#apiVersion: policy/v1beta2#' \
  'pdb\.yml:[0-9]+: PodDisruptionBudget/orchestrator-api: unknown kind "PodDisruptionBudget" of apiVersion "policy/v1beta2"'

echo "k8s_manifests_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
