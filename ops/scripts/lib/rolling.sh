#!/usr/bin/env bash
# Sourced by deploy.sh and rollback.sh after common.sh: the zero-downtime
# replacement of the orchestrator containers. Not meant to be run.
#
# For each service (scheduler, worker, api, in that order): start as many new
# containers as run now, from the new image, next to the old ones; wait until
# Docker reports every new one healthy (the image's HEALTHCHECK asks /ready);
# then SIGTERM the old ones together (each drains: readiness 503, no new work,
# runs in flight get SHUTDOWN_GRACE) and remove them. nginx is reloaded
# whenever the set of api containers changes, since it resolves `api` when it
# loads. If a new container is not healthy in time, the new ones are removed
# and the old ones keep serving.

ROLL_HEALTH_TIMEOUT=${ROLL_HEALTH_TIMEOUT:-180}

# Running containers (ids) of service $1, oldest first.
running_containers() {
  local ids
  ids=$(dc ps -q "$1" 2>/dev/null) || return 0
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086  # one id a word
  docker inspect -f '{{.State.Running}} {{.Created}} {{.Id}}' $ids |
    awk '$1 == "true" {print $2, $3}' | sort | awk '{print $2}'
}

all_healthy_ids() {
  local id
  for id in "$@"; do
    [ "$(container_health "$id")" = healthy ] || return 1
  done
}

# Whether one of the containers failed: unhealthy, or exited or restarted
# (a process that dies at start makes the restart policy loop).
any_unhealthy_ids() {
  local id state
  for id in "$@"; do
    [ "$(container_health "$id")" = unhealthy ] && return 0
    state=$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$id" 2>/dev/null) || return 0
    [ "$state" = "running 0" ] || return 0
  done
  return 1
}

reload_nginx() {
  if [ -n "$(dc ps -q nginx 2>/dev/null)" ]; then
    dc exec -T nginx nginx -s reload >/dev/null || log "warning: nginx reload failed"
  fi
}

# Replaces every container of service $1 with one from image $2.
# Returns 1 (old containers untouched) when the new ones do not become healthy.
roll_service() {
  local service=$1 image=$2 old new n id stop_secs
  mapfile -t old < <(running_containers "$service")
  n=${#old[@]}
  if [ "$n" -eq 0 ]; then
    log "$service: no running container, starting it"
    ORCH_IMAGE=$image dc up -d --no-deps --no-build "$service" >/dev/null
    return 0
  fi
  local target
  target=$(docker image inspect -f '{{.Id}}' "$image")
  if ! docker inspect -f '{{.Image}}' "${old[@]}" | grep -qvxF "$target"; then
    log "$service: already on $image"
    return 0
  fi
  log "$service: starting $n new container(s) from $image beside $n old"
  ORCH_IMAGE=$image dc up -d --no-deps --no-build --no-recreate --scale "$service=$((2 * n))" \
    "$service" >/dev/null 2>&1 || {
    log "$service: compose could not start new containers"
    return 1
  }
  mapfile -t new < <(running_containers "$service" | grep -vxF -f <(printf '%s\n' "${old[@]}"))
  if [ "${#new[@]}" -ne "$n" ]; then
    log "$service: expected $n new containers, found ${#new[@]}"
    remove_containers "${new[@]}"
    return 1
  fi
  local end=$((SECONDS + ROLL_HEALTH_TIMEOUT))
  until all_healthy_ids "${new[@]}"; do
    if any_unhealthy_ids "${new[@]}" || [ "$SECONDS" -ge "$end" ]; then
      log "$service: new containers not healthy; removing them, the old ones keep serving"
      for id in "${new[@]}"; do describe_container "$id"; done
      remove_containers "${new[@]}"
      return 1
    fi
    sleep 1
  done
  log "$service: ${#new[@]} new container(s) healthy"
  [ "$service" = api ] && reload_nginx
  # Old ones drain together; stop waits at most the compose stop_grace_period.
  stop_secs=${ROLL_STOP_TIMEOUT:-45}
  log "$service: draining $n old container(s)"
  docker stop -t "$stop_secs" "${old[@]}" >/dev/null
  docker rm -f "${old[@]}" >/dev/null
  [ "$service" = api ] && reload_nginx
  log "$service: replaced"
  return 0
}

# What went wrong with container $1, on stderr: its state (exit code, killed
# for memory, restarts), its last health checks and its last log lines.
describe_container() {
  # shellcheck disable=SC2016  # a Go template, not a shell expansion
  docker inspect -f '{{.Name}}: {{.State.Status}}, exit {{.State.ExitCode}}, oom-killed {{.State.OOMKilled}}, restarts {{.RestartCount}}, started {{.State.StartedAt}}{{if .State.Health}}, health {{.State.Health.Status}}{{range .State.Health.Log}}
  check at {{.Start}}: exit {{.ExitCode}} {{.Output}}{{end}}{{end}}' "$1" >&2 2>&1 || true
  docker logs --tail 20 "$1" >&2 2>&1 || true
}

remove_containers() {
  [ "$#" -gt 0 ] || return 0
  docker stop -t "${ROLL_STOP_TIMEOUT:-45}" "$@" >/dev/null 2>&1 || true
  docker rm -f "$@" >/dev/null 2>&1 || true
}

# Rolls every orchestrator service to image $1; stops at the first failure.
roll_all() {
  local image=$1 service
  for service in scheduler worker api; do
    roll_service "$service" "$image" || return 1
  done
}

# The image the running api containers use (an id), empty when none runs.
running_image() {
  local id
  id=$(running_containers api | head -1)
  [ -n "$id" ] || return 0
  docker inspect -f '{{.Image}}' "$id"
}
