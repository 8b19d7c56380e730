#!/usr/bin/env bash
# Installs what paramd needs to build, test and run, from Debian 12's
# packages only. Run as root. Skips apt when everything is already there.
#   bash scripts/install-deps.sh [--python] [--deploy] [--bench]
set -euo pipefail

packages=(
  build-essential cmake ninja-build clang clang-format libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libyaml-cpp-dev libeigen3-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libssl-dev openssl prometheus-cpp-dev prometheus
  python3 gnuplot-nox ca-certificates iproute2
)
# --python: the Python worker (python/paramd) and its examples: gRPC,
# protobuf, numpy, YAML and PyTorch for Debian's python3.
python_packages=(python3-grpcio python3-protobuf python3-numpy python3-yaml
  python3-torch)
for option in "$@"; do
  case "$option" in
    --python) packages+=("${python_packages[@]}") ;;
    # --deploy: what the whole test suite needs: the deployment tests' (a
    # Docker engine, compose, debootstrap for the local base image, kubectl
    # to render the k8s base) and the Python worker's, with pytest.
    --deploy)
      packages+=(docker.io docker-compose debootstrap python3-yaml
        "${python_packages[@]}" python3-pytest) ;;
    # --bench: what bench/run.sh needs too (iperf3, for the loopback limit).
    --bench) packages+=(iperf3) ;;
    *) echo "install-deps: unknown option $option" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
# npm fetches the data sets; any npm will do (Debian's or one already here).
command -v npm >/dev/null || missing+=(npm)
# Any kubectl will do too (Debian's is in kubernetes-client).
if [[ " $* " == *" --deploy "* ]]; then
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
