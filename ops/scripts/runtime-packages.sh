#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries BINARY needs, one a
# line: what the Dockerfile's runtime stage installs, and nothing more.
# Usage: runtime-packages.sh BINARY
set -euo pipefail
case "${1:-}" in
  -h | --help)
    sed -n '2,4p' "$0"
    exit 0
    ;;
esac
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: runtime-packages.sh BINARY (an existing file)" >&2
  exit 2
fi
ldd "$1" | awk '/=> \// {print $3}' | while read -r lib; do
  # Merged /usr: a library may be packaged under either of its paths.
  dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null ||
    { echo "runtime-packages: no package holds $lib" >&2; exit 1; }
done | cut -d: -f1 | sort -u
