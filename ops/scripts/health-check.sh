#!/usr/bin/env bash
# External health check of a node (or of nginx in front of the api nodes):
# GET $API_URL/health. Exit codes: 0 healthy, 1 unhealthy (the node answered,
# but not healthy: the failing checks are printed), 2 unreachable (no answer
# within TIMEOUT seconds, or an answer that is not the health document).
# Usage: health-check.sh [--help]   (API_URL, default http://localhost:8080; TIMEOUT, default 10)
set -euo pipefail
case "${1:-}" in
  -h | --help)
    sed -n '2,6p' "$0"
    exit 0
    ;;
  "") ;;
  *)
    echo "health-check: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
esac
API_URL=${API_URL:-http://localhost:8080}
TIMEOUT=${TIMEOUT:-10}
if ! [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || [ "$TIMEOUT" -lt 1 ] || [ "$TIMEOUT" -gt 300 ]; then
  echo "health-check: TIMEOUT must be 1 to 300 seconds" >&2
  exit 2
fi

body=$(mktemp)
trap 'rm -f "$body"' EXIT
if ! code=$(curl -sS -o "$body" -w '%{http_code}' --max-time "$TIMEOUT" "${API_URL%/}/health" 2>&1); then
  echo "UNREACHABLE: $API_URL ($code)"
  exit 2
fi
if ! status=$(jq -er '.status' "$body" 2>/dev/null); then
  echo "UNREACHABLE: $API_URL answered $code without a health document"
  exit 2
fi
if [ "$code" = "200" ] && [ "$status" = "healthy" ]; then
  echo "HEALTHY: $(jq -r '"node \(.node), version \(.version), leader alive \(.cluster.leader_alive), workers up \(.cluster.workers_up)"' "$body")"
  exit 0
fi
echo "UNHEALTHY: $API_URL answered $code ($status); failing checks:"
jq -r '.checks | to_entries[] | select(.value != "ok" and .value != true) | "  \(.key): \(.value)"' "$body"
exit 1
