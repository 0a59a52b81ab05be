#!/usr/bin/env bash
# Builds the images the compose stacks need on a machine without a registry:
# the Debian base image (base-image.sh), the orchestrator image from the root
# Dockerfile, and PostgreSQL and Redis from Debian's packages (ops/images/).
# Docker's layer cache makes a second call cheap. Prints each image's size.
# Usage: build-images.sh [--help]
#   ORCH_IMAGE (orchestrator:latest), POSTGRES_IMAGE (orch-local/postgres:15),
#   REDIS_IMAGE (orch-local/redis:7) name the images.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in
  -h | --help)
    sed -n '2,8p' "$0"
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
build "$ORCH_IMAGE" "$ROOT"
