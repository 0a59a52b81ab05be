#!/usr/bin/env bash
# Deploys the orchestrator image to a compose stack with zero downtime.
# Usage: deploy.sh [ENV] [--image IMAGE] [--skip-backup] [--no-rollback] [--help]
#   ENV          production (default) or development: the compose file and
#                env file (ops/docker-compose.prod.yml + ops/env/production.env)
#   --image      the image to deploy (default: ORCH_IMAGE, else orchestrator:latest)
#   --skip-backup  no backup before replacing containers
#   --no-rollback  on a failed smoke test, leave the new image running
# Steps: pre-checks (env file, secrets, `orchestrator config check` in the new
# image with the secrets mounted), backup (backup.sh), then either the first
# start (database, migrations, a first API token saved to SECRETS_DIR/api_token,
# every service) or a rolling replacement (lib/rolling.sh: new containers up
# and healthy before the old ones get SIGTERM and drain), a smoke test
# (smoke-test.sh), and on failure a rollback to the image that ran before
# (rollback.sh). The image that ran before is tagged ROLLBACK_TAG
# (orchestrator:rollback) so rebuilding :latest cannot take it away.
# Exit: 0 deployed, 1 failed (rolled back unless --no-rollback), 2 usage.
set -euo pipefail
# shellcheck source=ops/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ops/scripts/lib/rolling.sh
. "$(dirname "$0")/lib/rolling.sh"
# shellcheck source=ops/scripts/lib/datastores.sh
. "$(dirname "$0")/lib/datastores.sh"

env_name=production image=${ORCH_IMAGE:-orchestrator:latest} backup=1 rollback=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      print_help 2 18
      exit 0
      ;;
    --image)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "--image needs a value"; fi
      image=$2
      shift
      ;;
    --skip-backup) backup=0 ;;
    --no-rollback) rollback=0 ;;
    development | production) env_name=$1 ;;
    *)
      usage_error "unknown argument '$1'"
      ;;
  esac
  shift
done
select_env "$env_name"
SECRETS_DIR=${SECRETS_DIR:-$OPS_DIR/secrets}
ROLLBACK_TAG=${ROLLBACK_TAG:-orchestrator:rollback}
export SECRETS_DIR ORCH_IMAGE=$image
start=$SECONDS

# --- pre-checks -------------------------------------------------------------
[ -f "$COMPOSE_FILE_PATH" ] || die "no compose file $COMPOSE_FILE_PATH"
[ -f "$ORCH_ENV_FILE" ] || die "no env file $ORCH_ENV_FILE"
docker image inspect "$image" >/dev/null 2>&1 || die "image $image not found (build it first: ops/scripts/build-images.sh)"
if [ "$ORCH_ENV" = production ]; then
  for s in postgres_password cluster_secret grafana_admin_password; do
    f=$SECRETS_DIR/$s
    [ -s "$f" ] || die "secret $f is missing or empty (see ops/README.md, Secrets)"
    # The containers read it as their own users: readable by all in the
    # file's mode, the folder keeps other host users out.
    [ -r "$f" ] || die "secret $f is not readable"
  done
  perms=$(stat -c '%a' "$SECRETS_DIR")
  case "$perms" in
    700 | 750 | 711 | 710) ;;
    *) die "secrets folder $SECRETS_DIR has mode $perms: chmod 700 it" ;;
  esac
fi
dc config -q || die "compose file $COMPOSE_FILE_PATH does not validate"
log "config check of $ORCH_ENV_FILE in $image"
dc run --rm --no-deps -T api config check >&2 || die "configuration check failed"

# --- backup -----------------------------------------------------------------
stack_running() { [ -n "$(running_containers postgres)" ]; }
if [ "$backup" = 1 ] && stack_running; then
  log "backup before deploying"
  bash "$OPS_DIR/scripts/backup.sh" --env "$ORCH_ENV" >&2 || die "backup failed; nothing was changed"
fi

# --- first start or rolling replacement ---------------------------------------
first_start() {
  log "first start: database, migrations, API token, services"
  dc up -d --no-build postgres redis >/dev/null 2>&1 || die "cannot start postgres and redis"
  poll 180 all_healthy_ids "$(running_containers postgres)" "$(running_containers redis)" ||
    die "postgres or redis not healthy within 180 s"
  dc run --rm --no-deps -T api migrate >&2 || die "migrations failed"
  local tokens
  tokens=$(psql_q 'SELECT count(*) FROM api_tokens')
  # Production's api listens off loopback and refuses to start without a token.
  if [ "$ORCH_ENV" = production ] && [ "$tokens" -eq 0 ]; then
    [ -e "$SECRETS_DIR/api_token" ] && die "$SECRETS_DIR/api_token exists but the database has no token"
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    (umask 077 && dc run --rm --no-deps -T api token create --name deploy >"$SECRETS_DIR/api_token")
    [ -s "$SECRETS_DIR/api_token" ] || die "could not create the first API token"
    log "first API token written to $SECRETS_DIR/api_token"
  fi
  dc up -d --no-build >/dev/null 2>&1 || die "compose up failed"
  poll "$ROLL_HEALTH_TIMEOUT" stack_healthy || die "services not healthy within $ROLL_HEALTH_TIMEOUT s"
}

stack_healthy() {
  local ids
  ids=$(dc ps -q) || return 1
  # shellcheck disable=SC2086  # one id a word
  ! docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids |
    grep -qvE '^(healthy|running)$'
}

# Rolls back to the image tagged before this deploy, if it tagged one: a
# redeploy of the running image has nothing older to go back to.
roll_back() {
  [ "$rollback" = 1 ] && [ "$tagged" = 1 ] || return 0
  bash "$OPS_DIR/scripts/rollback.sh" "$ORCH_ENV" --image "$ROLLBACK_TAG" >&2 || true
}
tagged=0
previous=$(running_image)
if [ -z "$previous" ]; then
  first_start
else
  if [ "$(docker image inspect -f '{{.Id}}' "$image")" != "$previous" ]; then
    docker tag "$previous" "$ROLLBACK_TAG"
    tagged=1
    log "the running image is tagged $ROLLBACK_TAG for a rollback"
  fi
  if ! roll_all "$image"; then
    log "rolling replacement failed"
    roll_back
    exit 1
  fi
fi

# --- smoke test ---------------------------------------------------------------
if ! bash "$OPS_DIR/scripts/smoke-test.sh" "$ORCH_ENV" >&2; then
  log "smoke test failed"
  roll_back
  exit 1
fi
log "deployed $image to $ORCH_ENV in $((SECONDS - start)) s"
