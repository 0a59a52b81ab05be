#!/usr/bin/env bash
# Quick start: installs what is missing, builds Release, runs `orchestrator serve`
# with the embedded PostgreSQL, loads the tasks in examples/ and prints the URL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# ccache keys on paths relative to the checkout, so clones in other folders share hits.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1

bash ops/scripts/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release --target orchestrator -j"$(nproc)"

BIN="$ROOT/build-release/orchestrator"
PORT=${HTTP_PORT:-8080}
export HTTP_PORT=$PORT
URL="http://127.0.0.1:$PORT"

"$BIN" serve &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER' INT TERM
for _ in $(seq 1 600); do
  if curl -fsS "$URL/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 $SERVER 2>/dev/null; then wait $SERVER; exit $?; fi
  sleep 0.1
done
ORCH_URL=$URL "$BIN" apply -f examples/
echo
echo "Orchestrator is running at $URL (Ctrl-C stops it)"
echo "  curl $URL/v1/tasks | jq .     curl $URL/health | jq ."
wait $SERVER
