#!/usr/bin/env bash
# Sourced by the ops scripts: which compose tool, which stack, and small
# helpers. Not meant to be run.
#
# ORCH_ENV (development|production, default development) picks the stack:
#   development -> ops/docker-compose.yml      + ops/env/development.env
#   production  -> ops/docker-compose.prod.yml + ops/env/production.env
# COMPOSE_FILE_OVERRIDE and ORCH_ENV_FILE replace those paths when set.
# COMPOSE_PROJECT_NAME is honoured as compose itself honours it.
# shellcheck disable=SC2034  # variables used by the sourcing scripts

OPS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOT_DIR=$(cd "$OPS_DIR/.." && pwd)

# `docker compose` (the plugin) where present, else `docker-compose`.
if docker compose version >/dev/null 2>&1; then
  COMPOSE_CMD=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE_CMD=(docker-compose)
else
  COMPOSE_CMD=()
fi

# Sets COMPOSE_FILE_PATH and ORCH_ENV_FILE for environment $1.
select_env() {
  local env=${1:-${ORCH_ENV:-development}}
  case "$env" in
    development) COMPOSE_FILE_PATH=${COMPOSE_FILE_OVERRIDE:-$OPS_DIR/docker-compose.yml} ;;
    production) COMPOSE_FILE_PATH=${COMPOSE_FILE_OVERRIDE:-$OPS_DIR/docker-compose.prod.yml} ;;
    *)
      die "unknown environment '$env' (development or production)"
      ;;
  esac
  ORCH_ENV=$env
  ORCH_ENV_FILE=${ORCH_ENV_FILE:-$OPS_DIR/env/$env.env}
  export ORCH_ENV ORCH_ENV_FILE
}

# The compose tool on the selected stack.
dc() {
  [ "${#COMPOSE_CMD[@]}" -gt 0 ] || die "neither 'docker compose' nor 'docker-compose' is installed"
  "${COMPOSE_CMD[@]}" -f "$COMPOSE_FILE_PATH" "$@"
}

log() { echo "$(basename "$0" .sh): $*" >&2; }
# Prints lines $1 to $2 of the script's header comment: its --help.
print_help() { sed -n "$1,$2p" "$0" | sed 's/^# \{0,1\}//'; }
# A bad argument: the message, a pointer to --help, exit 2.
usage_error() {
  log "$* (see --help)"
  exit 2
}
die() {
  log "$*"
  exit 1
}

# Polls a command every 0.5 s for at most $1 seconds.
poll() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}

# The health status Docker reports for container $1 (healthy, unhealthy,
# starting, or none without a health check).
container_health() {
  docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null
}


# The orchestrator services of a stack: those whose image is the orchestrator's.
ORCH_SERVICES=(api scheduler worker)
