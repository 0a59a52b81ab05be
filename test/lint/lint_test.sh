#!/usr/bin/env bash
# Every shell script of the project passes shellcheck (following what it
# sources), and every YAML file passes yamllint with the project's .yamllint.
# Usage: test/lint/lint_test.sh   (ctest label lint)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mapfile -t scripts < <(git ls-files --cached --others --exclude-standard -- '*.sh' | sort)
mapfile -t yamls < <(git ls-files --cached --others --exclude-standard -- '*.yml' '*.yaml' '.yamllint' | sort)
[ "${#scripts[@]}" -gt 10 ] || { echo "FAIL: found only ${#scripts[@]} shell scripts" >&2; exit 1; }
shellcheck -x "${scripts[@]}"
yamllint -c .yamllint "${yamls[@]}"
echo "PASS lint: ${#scripts[@]} shell scripts, ${#yamls[@]} YAML files"
