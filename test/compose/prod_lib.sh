#!/usr/bin/env bash
# Shared by the compose tests of the production stack: lib.sh's helpers with
# ops/docker-compose.prod.yml under its own project name, nginx and the UIs
# published on free 127.0.0.1 ports, secrets generated into a temporary
# folder, the local service images. Source it, then prod_up.
# shellcheck disable=SC2034  # variables used by the sourcing scripts
# shellcheck source=test/compose/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export ORCH_ENV=production NGINX_BIND=127.0.0.1
NGINX_HTTP_PORT=$(free_port)
NGINX_HTTPS_PORT=$(free_port)
PROMETHEUS_PORT=$(free_port)
ALERTMANAGER_PORT=$(free_port)
export NGINX_HTTP_PORT NGINX_HTTPS_PORT PROMETHEUS_PORT ALERTMANAGER_PORT
export NGINX_IMAGE=${NGINX_IMAGE:-orch-local/nginx:latest}
export PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-orch-local/prometheus:latest}
export ALERTMANAGER_IMAGE=${ALERTMANAGER_IMAGE:-orch-local/alertmanager:latest}
export POSTGRES_EXPORTER_IMAGE=${POSTGRES_EXPORTER_IMAGE:-orch-local/postgres-exporter:latest}
export REDIS_EXPORTER_IMAGE=${REDIS_EXPORTER_IMAGE:-orch-local/redis-exporter:latest}
export NODE_EXPORTER_IMAGE=${NODE_EXPORTER_IMAGE:-orch-local/node-exporter:latest}
SECRETS_DIR=$(mktemp -d)
TLS_DIR=$(mktemp -d)
BACKUP_DIR=$(mktemp -d)
export SECRETS_DIR TLS_DIR BACKUP_DIR
chmod 700 "$SECRETS_DIR"
for s in postgres_password cluster_secret grafana_admin_password; do
  head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$SECRETS_DIR/$s"
  chmod 644 "$SECRETS_DIR/$s"
done
URL=http://127.0.0.1:$NGINX_HTTP_PORT
TOKEN=
export ROLLBACK_TAG=orchestrator:rollback-$COMPOSE_PROJECT_NAME
TEST_TAGS=("$ROLLBACK_TAG")

dc() { "${COMPOSE[@]}" -f "$ROOT/ops/docker-compose.prod.yml" "$@"; }
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_jobs
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  [ "${#TEST_TAGS[@]}" -eq 0 ] || docker rmi "${TEST_TAGS[@]}" >/dev/null 2>&1 || true
  rm -rf "$SECRETS_DIR" "$TLS_DIR" "$BACKUP_DIR"
}
trap cleanup EXIT

api() { curl -fsS --max-time 10 -H "Authorization: Bearer $TOKEN" "$@"; }
prod_nodes_up() {
  local n
  n=$(api "$URL/v1/nodes" | jq '[.items[] | select(.status == "up")] | length') || return 1
  [ "$n" -eq "$1" ]
}

# Builds the images and brings the stack up the way a user does, with
# deploy.sh's first start; prints the time it took.
prod_up() {
  bash "$ROOT/ops/scripts/build-images.sh"
  local start
  start=$(now_ms)
  bash "$ROOT/ops/scripts/deploy.sh" production --skip-backup || fail "deploy.sh first start"
  echo "figure: ms from deploy.sh (images built) to a healthy, smoke-tested production stack: $(($(now_ms) - start))"
  TOKEN=$(tr -d '[:space:]' <"$SECRETS_DIR/api_token")
  [ -n "$TOKEN" ] || fail "no API token written by deploy.sh"
}

# A copy of orchestrator:latest with another image id (a "new version").
derived_image() {
  local tag=$1
  shift
  printf 'FROM %s\n%s\n' "$ORCH_IMAGE" "$*" | docker build -q -t "$tag" - >/dev/null || fail "build $tag"
  TEST_TAGS+=("$tag")
}

image_of_services() {
  local ids
  ids=$(for s in api scheduler worker; do dc ps -q "$s"; done)
  # shellcheck disable=SC2086  # one id a word
  docker inspect -f '{{.Image}}' $ids | sort | uniq -c
}

# Whether every orchestrator container runs image id $1.
all_on() {
  local images
  images=$(image_of_services)
  [ "$(echo "$images" | wc -l)" -eq 1 ] || return 1
  echo "$images" | grep -qF "$1"
}
