#!/usr/bin/env bash
# The whole test suite: installs what is needed, builds with g++, runs the
# unit tests and then the cluster tests (real daemons on 127.0.0.1 and on
# test hosts in network namespaces); then the deployments for real: the
# Kubernetes base rendered and checked, the compose cluster (a dockerd of
# its own), the systemd units in a container booting systemd; then the
# sanitizer runs with clang++ (which also checks the thread-safety
# annotations): ASan+UBSan over the unit and cluster tests, every fuzz
# target for 20 s, TSan over the unit tests; then checks formatting.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --deploy

bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2 -L unit
ctest --test-dir build --output-on-failure -j2 -L cluster

/usr/bin/python3 deploy/test-k8s.py build/bin
bash deploy/test-compose.sh
bash deploy/test-systemd.sh build

bash scripts/sanitize.sh 20

git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "test.sh: all passed"
