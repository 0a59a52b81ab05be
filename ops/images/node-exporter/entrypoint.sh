#!/usr/bin/env bash
# Starts the node exporter with the container's command as its flags, as the
# official image does. Debian turns the systemd collector on where upstream
# leaves it off; in a container there is no system bus to ask, and every
# scrape would log the failure. So it is turned off unless a flag names it
# (the exporter refuses a flag given twice, even as --no- and --).
set -euo pipefail
for arg in "$@"; do
  case "$arg" in
    --collector.systemd* | --no-collector.systemd) exec /usr/bin/prometheus-node-exporter "$@" ;;
  esac
done
exec /usr/bin/prometheus-node-exporter --no-collector.systemd "$@"
