#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL, runs every
# test with ctest, stops PostgreSQL even when tests fail, exits with the tests' status.
# Usage: ops/scripts/test.sh [ctest arguments, e.g. -L unit]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# ccache keys on paths relative to the checkout, so clones in other folders share hits.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1

bash ops/scripts/install-deps.sh
BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

eval "$(bash ops/scripts/pg-throwaway.sh start)"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { bash "$ROOT/ops/scripts/pg-throwaway.sh" stop "$PG_TMP"; }
trap cleanup EXIT
echo "test.sh: PostgreSQL on 127.0.0.1:$PG_PORT ($PG_TMP)"
export TEST_DATABASE_URL PG_BIN PG_TMP PG_PORT
export ORCH_BINARY="$ROOT/$BUILD/orchestrator"

status=0
(cd "$BUILD" && ctest --output-on-failure "$@") || status=$?
exit $status
