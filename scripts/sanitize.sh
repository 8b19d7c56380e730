#!/usr/bin/env bash
# The sanitizer runs (clang 14), each build in its own folder:
#   build-asan  ASan + UBSan (and libFuzzer coverage): the unit tests (which
#               replay the fuzz corpora), the cluster tests (the daemons they
#               start are the ASan binaries of the same build), then every
#               fuzz target for a short while;
#   build-tsan  TSan: the unit tests.
# Usage: scripts/sanitize.sh [fuzz-seconds-per-target]   (default 20)
# Prints how long each phase took. With $PARAMD_BUILD_LOCK set, builds run
# under `flock $PARAMD_BUILD_LOCK` (for machines where builds take turns).
# Sanitizer options and suppressions: scripts/sanitizer_env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-20}
source scripts/sanitizer_env.sh
clang=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)

times=()
report() {
  echo "sanitize.sh: phase times (the CPU may be shared):"
  if ((${#times[@]} > 0)); then printf '  %s\n' "${times[@]}"; fi
}
trap report EXIT

# phase NAME COMMAND...: runs and times one phase.
phase() {
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  local result=ok
  "$@" || result=FAILED
  times+=("$(printf '%-26s %6ds %s' "$name" $((SECONDS - start)) "$result")")
  [[ $result == ok ]] || exit 1
}

build() {
  local dir=$1
  shift
  local lock=()
  [[ -n ${PARAMD_BUILD_LOCK:-} ]] && lock=(flock "$PARAMD_BUILD_LOCK")
  BUILD_DIR=$dir "${lock[@]}" bash scripts/build.sh "${clang[@]}" "$@"
}

phase "asan: build" build build-asan -DPARAMD_SANITIZE=address
phase "asan: unit tests" \
  ctest --test-dir build-asan --output-on-failure -j2 -L unit
phase "asan: cluster tests" \
  ctest --test-dir build-asan --output-on-failure -j2 -L cluster
phase "asan: fuzz ${fuzz_seconds}s/target" \
  env BUILD_DIR=build-asan bash scripts/fuzz.sh "$fuzz_seconds"
phase "tsan: build" build build-tsan -DPARAMD_SANITIZE=thread
phase "tsan: unit tests" \
  ctest --test-dir build-tsan --output-on-failure -j2 -L unit
echo "sanitize.sh: all passed"
