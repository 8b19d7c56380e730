#!/usr/bin/env bash
# The whole test suite: installs what is needed, builds with g++, runs the
# unit tests and then the cluster tests (real daemons on 127.0.0.1); then
# builds with clang++ (which checks the thread-safety annotations) and runs
# the unit tests again; then checks formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 -L unit
ctest --test-dir build --output-on-failure -j2 -L cluster

BUILD_DIR=build-clang bash scripts/build.sh \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
ctest --test-dir build-clang --output-on-failure -j2 -L unit

git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "test.sh: all passed"
