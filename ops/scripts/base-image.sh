#!/usr/bin/env bash
# Makes the Debian 12 base image (debian:bookworm-slim) locally when the Docker
# engine lacks it: debootstrap --variant=minbase into a folder, with the
# machine's own apt sources, imported with `docker import`. Does nothing when
# the image exists. Where a registry is reachable, `docker pull` gives the
# official image instead; the Dockerfile is the same in both cases.
# Usage: base-image.sh [--help]   (BASE_IMAGE overrides the image name)
set -euo pipefail

IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
case "${1:-}" in
  -h | --help)
    sed -n '2,7p' "$0"
    exit 0
    ;;
  "") ;;
  *)
    echo "base-image: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
esac

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base-image: $IMAGE present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "base-image: debootstrap needs root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; }
fi

# The machine's own mirror: it is the one known to be reachable.
mirror=http://deb.debian.org/debian
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
elif [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
fi

rootfs=$(mktemp -d /tmp/orch-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
start=$(date +%s)
echo "base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
  { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"

# The host's sources (updates and security too), so package versions match it.
rm -f "$rootfs/etc/apt/sources.list"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
else
  cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
fi
for f in /etc/apt/apt.conf.d/99*; do
  [ -f "$f" ] && cp "$f" "$rootfs/etc/apt/apt.conf.d/"
done
# As the official slim image: no recommends, no docs or man pages, no caches.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$rootfs/etc/apt/apt.conf.d/90-slim"
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
  'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
  'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
  >"$rootfs/etc/dpkg/dpkg.cfg.d/90-slim"
printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
  'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' >"$rootfs/etc/apt/apt.conf.d/91-clean"
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "base-image: $IMAGE made in $(($(date +%s) - start)) s, $((size / 1000000)) MB"
