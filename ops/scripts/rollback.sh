#!/usr/bin/env bash
# Rolls the orchestrator containers back to the image that ran before the
# last deploy, with the same zero-downtime replacement as deploy.sh, then
# runs the smoke test.
# Usage: rollback.sh [ENV] [--image IMAGE] [--help]
#   ENV      production (default) or development
#   --image  the image to go back to (default: ROLLBACK_TAG, orchestrator:rollback,
#            which deploy.sh tags before it replaces anything)
# Exit: 0 rolled back and the smoke test passed, 1 failed, 2 usage.
set -euo pipefail
# shellcheck source=ops/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=ops/scripts/lib/rolling.sh
. "$(dirname "$0")/lib/rolling.sh"

env_name=production image=${ROLLBACK_TAG:-orchestrator:rollback}
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      print_help 2 9
      exit 0
      ;;
    --image)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "--image needs a value"; fi
      image=$2
      shift
      ;;
    development | production) env_name=$1 ;;
    *)
      usage_error "unknown argument '$1'"
      ;;
  esac
  shift
done
select_env "$env_name"
docker image inspect "$image" >/dev/null 2>&1 || die "image $image not found: nothing to roll back to"
[ -n "$(running_image)" ] || die "no orchestrator container runs in this stack"
log "rolling back to $image ($(docker image inspect -f '{{.Id}}' "$image"))"
roll_all "$image" || die "rollback failed: see the messages above"
bash "$OPS_DIR/scripts/smoke-test.sh" "$ORCH_ENV" >&2 || die "smoke test failed after the rollback"
log "rolled back to $image"
