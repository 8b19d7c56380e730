# Sourced by scripts/fuzz.sh and scripts/sanitize.sh: how the sanitizers
# report. Keeps options already in the environment.
suppressions_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:print_stacktrace=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$suppressions_dir/lsan.supp:print_suppressions=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$suppressions_dir/tsan.supp}
