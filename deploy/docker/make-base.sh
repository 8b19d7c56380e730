#!/usr/bin/env bash
# Makes the local base image paramd-base:bookworm that deploy/docker/Dockerfile
# builds FROM: a minimal Debian bookworm from the archive apt already uses
# (no container registry needed). Skips the work if the image exists.
#   bash deploy/docker/make-base.sh [IMAGE]
set -euo pipefail
image=${1:-paramd-base:bookworm}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base: $image exists"
  exit 0
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}
# The Debian mirror apt is configured with on this host.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
           2>/dev/null | grep -vE '^\s*#' | grep -oE 'https?://[^ ]+' |
         grep -E '/debian/?$' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/paramd-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "make-base: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
# Keep images small: no docs, no apt caches.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$image" >/dev/null
echo "make-base: $image ready"
