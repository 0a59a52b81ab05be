#!/usr/bin/env bash
# Builds the images the compose stacks need on a machine without a registry:
# the Debian base image (base-image.sh); from Debian's packages (ops/images/),
# PostgreSQL and Redis, then the production stack's nginx, Prometheus,
# Alertmanager and the PostgreSQL, Redis and node exporters; last, the
# orchestrator image from the root Dockerfile. Docker's layer cache makes a
# second call cheap. Prints each image's size.
# Usage: build-images.sh [--help]
#   ORCH_IMAGE (orchestrator:latest), POSTGRES_IMAGE (orch-local/postgres:15),
#   REDIS_IMAGE (orch-local/redis:7), NGINX_IMAGE, PROMETHEUS_IMAGE,
#   ALERTMANAGER_IMAGE, POSTGRES_EXPORTER_IMAGE, REDIS_EXPORTER_IMAGE and
#   NODE_EXPORTER_IMAGE (orch-local/nginx:latest, orch-local/prometheus:latest,
#   ...: orch-local/ and the folder's name) name the images.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in
  -h | --help)
    sed -n '2,13p' "$0"
    exit 0
    ;;
  "") ;;
  *)
    echo "build-images: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
esac
ORCH_IMAGE=${ORCH_IMAGE:-orchestrator:latest}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-orch-local/postgres:15}
REDIS_IMAGE=${REDIS_IMAGE:-orch-local/redis:7}
NGINX_IMAGE=${NGINX_IMAGE:-orch-local/nginx:latest}
PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-orch-local/prometheus:latest}
ALERTMANAGER_IMAGE=${ALERTMANAGER_IMAGE:-orch-local/alertmanager:latest}
POSTGRES_EXPORTER_IMAGE=${POSTGRES_EXPORTER_IMAGE:-orch-local/postgres-exporter:latest}
REDIS_EXPORTER_IMAGE=${REDIS_EXPORTER_IMAGE:-orch-local/redis-exporter:latest}
NODE_EXPORTER_IMAGE=${NODE_EXPORTER_IMAGE:-orch-local/node-exporter:latest}

bash "$ROOT/ops/scripts/base-image.sh"

build() {
  local tag=$1 dir=$2 start
  start=$(date +%s)
  # Host networking: the build reaches the machine's apt mirror the way the host does.
  if ! docker build --network=host -q -t "$tag" "$dir" >/tmp/orch-build-image.log 2>&1; then
    tail -30 /tmp/orch-build-image.log >&2
    echo "build-images: $tag failed" >&2
    exit 1
  fi
  local size
  size=$(docker image inspect -f '{{.Size}}' "$tag")
  echo "build-images: $tag in $(($(date +%s) - start)) s, $((size / 1000000)) MB"
}
build "$POSTGRES_IMAGE" "$ROOT/ops/images/postgres"
build "$REDIS_IMAGE" "$ROOT/ops/images/redis"
build "$NGINX_IMAGE" "$ROOT/ops/images/nginx"
build "$PROMETHEUS_IMAGE" "$ROOT/ops/images/prometheus"
build "$ALERTMANAGER_IMAGE" "$ROOT/ops/images/alertmanager"
build "$POSTGRES_EXPORTER_IMAGE" "$ROOT/ops/images/postgres-exporter"
build "$REDIS_EXPORTER_IMAGE" "$ROOT/ops/images/redis-exporter"
build "$NODE_EXPORTER_IMAGE" "$ROOT/ops/images/node-exporter"
# Last: the longest build, and the one most often changed.
build "$ORCH_IMAGE" "$ROOT"
