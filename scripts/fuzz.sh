#!/usr/bin/env bash
# Fuzzes each libFuzzer target of the clang ASan build for a bounded time:
#   scripts/fuzz.sh [seconds-per-target]        (default 60)
# Build first: BUILD_DIR=build-asan bash scripts/build.sh \
#   -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DPARAMD_SANITIZE=address
# Each target starts from a copy of tests/testdata/fuzz/<name>/ (seeds and
# regressions) in a scratch folder, so the repository is not modified.
# Prints per target the runs and the coverage before and after; fails if any
# target crashed, printing the report and where its input is. Save such an
# input in tests/testdata/fuzz/<name>/regressions/ (the command is printed):
# once the bug is fixed, ctest's <name>_fuzz_replay test replays it.
# $BUILD_DIR picks another build dir; $FUZZ_TARGETS (names, space-separated)
# a subset of the targets.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build_dir=${BUILD_DIR:-build-asan}
source scripts/sanitizer_env.sh

targets=${FUZZ_TARGETS:-$(cd "$build_dir/bin" 2>/dev/null && ls -- *_fuzz |
  sed 's/_fuzz$//')}
if [[ -z "$targets" ]]; then
  echo "fuzz.sh: no fuzz targets in $build_dir/bin (see the build command" \
    "at the top of this script)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/paramd-fuzz.XXXXXX")
crashed=()
printf '%-12s %10s %8s %17s %10s %s\n' target runs exec/s "cov (edges)" \
  "new units" result
for name in $targets; do
  bin="$build_dir/bin/${name}_fuzz"
  dir="$work/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "tests/testdata/fuzz/$name/." "$dir/corpus/"
  result=ok
  # -close_fd_mask=2: the code under test may log to stderr; libFuzzer's
  # own output and the sanitizer reports still come through.
  # -timeout: an input running 10 s is a hang (and a runaway allocation
  # loop is caught by it before the 2 GB out-of-memory limit, whose report
  # can take many minutes under ASan); `timeout` is the last resort.
  timeout --signal=KILL $((seconds + 300)) \
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=2 \
    -timeout=10 -artifact_prefix="$dir/artifacts/" "$dir/corpus" \
    >"$dir/log" 2>&1 || result=CRASH
  cov_start=$(grep -m1 -o 'INITED cov: [0-9]*' "$dir/log" | grep -o '[0-9]*$' ||
    echo '?')
  cov_end=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | grep -o '[0-9]*$' ||
    echo '?')
  runs=$(grep -o 'number_of_executed_units: *[0-9]*' "$dir/log" |
    grep -o '[0-9]*$' || echo '?')
  speed=$(grep -o 'average_exec_per_sec: *[0-9]*' "$dir/log" |
    grep -o '[0-9]*$' || echo '?')
  new=$(grep -o 'new_units_added: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' ||
    echo '?')
  printf '%-12s %10s %8s %17s %10s %s\n' "$name" "$runs" "$speed" \
    "$cov_start -> $cov_end" "$new" "$result"
  if [[ $result != ok ]]; then
    crashed+=("$name")
    grep -E -A14 '==[0-9]+== ?ERROR|runtime error|deadly signal|Check failed|ERROR: libFuzzer' \
      "$dir/log" | head -40 | sed 's/^/    /'
    for input in "$dir"/artifacts/*; do
      [[ -e $input ]] || continue
      echo "    input: $input"
      echo "    keep it: cp '$input' tests/testdata/fuzz/$name/regressions/"
    done
  fi
done
if ((${#crashed[@]})); then
  echo "fuzz.sh: crashed: ${crashed[*]} (logs in $work)"
  exit 1
fi
rm -rf "$work"
echo "fuzz.sh: no crashes"
