#!/usr/bin/env bash
# Installs every Debian package the orchestrator needs to build, run and test.
# Idempotent: installs only what is missing. Works as root or through sudo.
# Usage: install-deps.sh [--build-only]   (--build-only: what a build needs, as
# in the Dockerfile's build stage; no servers or test tools)
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ccache pkg-config
  libcaf-dev libpqxx-dev libhiredis-dev librestinio-dev libfmt-dev libasio-dev libhttp-parser-dev
  prometheus-cpp-dev nlohmann-json3-dev libboost-test-dev libcurl4-openssl-dev libssl-dev
  libhowardhinnant-date-dev tzdata libyaml-cpp-dev libcli11-dev
)
TEST_PACKAGES=(
  git curl jq postgresql postgresql-contrib redis-server
  python3 python3-croniter wrk procps iproute2 shellcheck yamllint
  prometheus prometheus-alertmanager python3-yaml
  prometheus-postgres-exporter prometheus-redis-exporter prometheus-node-exporter
)
case "${1:-}" in
  --build-only) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  "") PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  -h | --help)
    sed -n '2,5p' "$0"
    exit 0
    ;;
  *)
    echo "install-deps: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; a failed update is retried once.
$SUDO apt-get update -qq || { sleep 5; $SUDO apt-get update -qq; }
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian postgresql package may start a cluster on port 5432; nothing here
# uses it, and tests start their own servers.
# prometheus, prometheus-alertmanager and the exporters start and enable
# their services (ports 9090, 9093, 9094, 9187, 9121 and 9100) when
# installed; the tests run their own on free loopback ports and the stacks in
# containers, so the ones installed here are stopped and disabled. A service
# that was installed before is left alone.
for svc in prometheus prometheus-alertmanager prometheus-postgres-exporter \
  prometheus-redis-exporter prometheus-node-exporter; do
  case " ${missing[*]} " in *" $svc "*) ;; *) continue ;; esac
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$svc" ]; then
    $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done
