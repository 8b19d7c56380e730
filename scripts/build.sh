#!/usr/bin/env bash
# Configures and builds paramd into build/ (or $BUILD_DIR) with two jobs.
# Extra arguments go to cmake, e.g. -DCMAKE_CXX_COMPILER=clang++.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$build_dir" -j2
