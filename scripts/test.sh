#!/usr/bin/env bash
# The whole test suite: installs what is needed, builds with g++, runs the
# unit tests and then the cluster tests (real daemons on 127.0.0.1); then the
# sanitizer runs with clang++ (which also checks the thread-safety
# annotations): ASan+UBSan over the unit and cluster tests, every fuzz
# target for 20 s, TSan over the unit tests; then checks formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 -L unit
ctest --test-dir build --output-on-failure -j2 -L cluster

bash scripts/sanitize.sh 20

git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "test.sh: all passed"
