#!/usr/bin/env bash
# Sourced after common.sh by the scripts that reach PostgreSQL and Redis
# inside a stack (backup.sh, restore.sh, deploy.sh). Not meant to be run.

# The database's user and name as the postgres container itself knows them
# (the official image's POSTGRES_USER[_FILE] and POSTGRES_DB); the local socket
# inside the container needs no password.
# shellcheck disable=SC2016  # expanded by the container's shell
PG_PRELUDE='u=${POSTGRES_USER:-}; if [ -z "$u" ] && [ -n "${POSTGRES_USER_FILE:-}" ]; then u=$(cat "$POSTGRES_USER_FILE"); fi; u=${u:-postgres}; d=${POSTGRES_DB:-$u};'
pg_sh() { dc exec -T postgres sh -c "$PG_PRELUDE $1"; }
# One SQL text (stdin of psql) in the stack's database; unaligned tuples only.
# shellcheck disable=SC2016
psql_q() { pg_sh 'exec psql -X -v ON_ERROR_STOP=1 -U "$u" -d "$d" -tA' <<<"$1"; }

# A shell script in the redis container, with redis-cli authenticated by the
# password the container knows, if any; further arguments are its $0 $1 ...
# shellcheck disable=SC2016
REDIS_PRELUDE='p=${REDIS_PASSWORD:-}; if [ -z "$p" ] && [ -n "${REDIS_PASSWORD_FILE:-}" ]; then p=$(cat "$REDIS_PASSWORD_FILE"); fi; if [ -n "$p" ]; then export REDISCLI_AUTH="$p"; fi;'
redis_sh() {
  local script=$1
  shift
  dc exec -T redis sh -c "$REDIS_PRELUDE $script" "$@"
}

# "service running id image image-id" for each container of the stack, one-off
# containers left out (one compose call: each costs most of a second with
# docker-compose 1.x).
stack_containers() {
  local ids
  ids=$(dc ps -a -q) || return 1
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086  # one id a word
  docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Running}} {{.Id}} {{.Config.Image}} {{.Image}} {{index .Config.Labels "com.docker.compose.oneoff"}}' $ids |
    awk '$6 != "True" { print $1, $2, $3, $4, $5 }'
}
