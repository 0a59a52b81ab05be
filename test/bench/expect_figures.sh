#!/usr/bin/env bash
# Runs a benchmark program and fails unless it exits 0 and prints a JSON
# figure line for every benchmark named after `--` (the smoke tests' check,
# kept apart from the program's own verdict).
# Usage: expect_figures.sh PROGRAM [ARGS...] -- NAME...
set -uo pipefail
cmd=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  cmd+=("$1")
  shift
done
[ $# -gt 0 ] || { echo "usage: $0 PROGRAM [ARGS...] -- NAME..." >&2; exit 2; }
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"${cmd[@]}" | tee "$out"
rc=${PIPESTATUS[0]}
failed=0
for name in "$@"; do
  if ! grep -q "\"benchmark\":\"$name\"" "$out"; then
    echo "expect_figures: no figure \"$name\" was printed" >&2
    failed=1
  fi
done
if [ "$rc" -ne 0 ]; then
  echo "expect_figures: ${cmd[0]} exited $rc" >&2
  failed=1
fi
exit "$failed"
