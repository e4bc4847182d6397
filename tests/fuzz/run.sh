#!/usr/bin/env bash
# Runs the libFuzzer harness (make fuzz): FUZZ_TIME seconds (default 600),
# starting from the committed seeds (tests/fuzz/corpus) and what earlier runs
# found ($BUILD/fuzz-corpus).  A crash leaves its input in $BUILD/ as
# crash-* (replay: $BUILD/fuzz_api FILE) and fails.  Prints libFuzzer's
# final statistics (executions, coverage).
#   FUZZ_ARGS   more libFuzzer options (e.g. -jobs=2 -workers=2)
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build-fuzz}
mkdir -p "$BUILD/fuzz-corpus"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# shellcheck disable=SC2086
exec "$BUILD/fuzz_api" -max_total_time="${FUZZ_TIME:-600}" -max_len=4096 -detect_leaks=0 \
	-timeout=120 -rss_limit_mb=4096 -print_final_stats=1 \
	-artifact_prefix="$BUILD/" ${FUZZ_ARGS:-} \
	"$BUILD/fuzz-corpus" tests/fuzz/corpus
