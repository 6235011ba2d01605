#!/bin/sh
# Runs the compose loader fuzzer for a bounded time on the seed corpus.
#
#   tests/fuzz/run.sh [BUILD_DIR]      (what `make fuzz` calls)
#
# FUZZ_SECONDS (default 120) bounds the run. New interesting inputs go to
# BUILD_DIR/fuzz-corpus, so the committed seeds in tests/fuzz/corpus stay
# small; a crashing input is written to BUILD_DIR/fuzz-artifacts/ and should
# be fixed, then added to tests/fuzz/corpus so make check replays it.
set -eu

build=${1:-build-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
fuzzer=$build/tests/fuzz/fuzz-compose-load
if [ ! -x "$fuzzer" ]; then
    echo "run.sh: $fuzzer not built (configure with CC=clang -DBERTH_FUZZ=ON)" >&2
    exit 1
fi
mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts"

status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$fuzzer" \
    -max_total_time="${FUZZ_SECONDS:-120}" \
    -timeout=10 \
    -rss_limit_mb=2560 \
    -max_len=16384 \
    -dict="$src/tests/fuzz/compose.dict" \
    -artifact_prefix="$build/fuzz-artifacts/" \
    -print_final_stats=1 \
    "$build/fuzz-corpus" "$src/tests/fuzz/corpus" || status=$?

if [ "$status" -ne 0 ]; then
    echo "run.sh: the fuzzer found a failure; inputs are in $build/fuzz-artifacts/" >&2
    exit "$status"
fi
echo "run.sh: no failures in ${FUZZ_SECONDS:-120}s"
