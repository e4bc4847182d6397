#!/usr/bin/env bash
# Runs pcmalloc's test suites and prints one PASS/FAIL line per test, then
# "N passed, M failed".  Exit status is non-zero when anything failed.
#
#   BUILD       build directory (default build)
#   PCM_SUITES  which suites: unit api modes link fastpath fault tsan
#               misuse secure blackbox valgrind sanitizer ubsan debug
#               (default all)
#
# Tests judge correctness only (exact counts and contents), never speed.
# The time limits below detect hangs: each is far above a run on a loaded
# 2-core machine (HANG seconds; several times that for the black-box
# programs and valgrind), so a slow run is never a failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SUITES=${PCM_SUITES:-"unit api modes link fastpath fault tsan misuse secure blackbox valgrind sanitizer ubsan debug"}
LIB=$PWD/$BUILD/libpcmalloc.so
SECURE_LIB=$PWD/$BUILD/libpcmalloc-secure.so
LOGS=$BUILD/test-logs
HANG=900
mkdir -p "$LOGS"
pass=0
fail=0
failed=()

# run NAME TIMEOUT CMD...: one test.
run() {
	local name=$1 limit=$2
	shift 2
	local log=$LOGS/${name//\//_}.log
	local start=$SECONDS
	if timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1; then
		pass=$((pass + 1))
		printf 'PASS %-48s %3ds\n' "$name" $((SECONDS - start))
	else
		local rc=$?
		fail=$((fail + 1))
		failed+=("$name")
		printf 'FAIL %-48s %3ds (exit %d)\n' "$name" $((SECONDS - start)) "$rc"
		tail -n 15 "$log" | sed 's/^/     | /'
	fi
}

has_marker() { head -n 3 "$1" | grep -qE "pcm-test:( [a-z-]+)* $2( |$)"; }
want() { [[ " $SUITES " == *" $1 "* ]]; }

export PCM_REQUIRE_ACTIVE=1

if want unit; then
	for t in "$BUILD"/tests/unit/test_*; do
		run "unit/$(basename "$t")" $HANG "$t"
	done
fi

if want api; then
	for src in tests/api/*.c; do
		n=$(basename "$src" .c)
		run "api/$n (linked)" $HANG "$BUILD/tests/api/$n.static"
		run "api/$n (LD_PRELOAD)" $HANG env LD_PRELOAD="$LIB" "$BUILD/tests/api/$n.plain"
	done
fi

# The cache modes: per-CPU where rseq works, and the per-thread fallback
# forced by configuration and by glibc not registering rseq.
if want modes; then
	run "modes/percpu: per-CPU mode" $HANG env PCM_EXPECT_MODE=percpu "$BUILD/tests/api/percpu.static"
	run "modes/trim_race: per-CPU mode (linked)" $HANG env PCM_EXPECT_MODE=percpu \
		"$BUILD/tests/api/trim_race.static"
	run "modes/trim_race: per-CPU mode (LD_PRELOAD)" $HANG env PCM_EXPECT_MODE=percpu \
		LD_PRELOAD="$LIB" "$BUILD/tests/api/trim_race.plain"
	for t in percpu mt_stress fork_threads fork_stdio thread_churn trim_race; do
		[ -x "$BUILD/tests/api/$t.static" ] || continue
		run "modes/$t: percpu:0" $HANG env PCM_EXPECT_MODE=thread PCMALLOC_CONF=percpu:0 \
			"$BUILD/tests/api/$t.static"
		run "modes/$t: glibc rseq=0" $HANG env PCM_EXPECT_MODE=thread \
			GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$LIB" "$BUILD/tests/api/$t.plain"
	done
fi

# The heap profiler on (caches off, sampling every 4 KiB on average) under
# threads, fork and signals; the dumps go to the logs directory.
if want modes; then
	rm -f "$LOGS"/prof.*.heap
	for t in mt_stress fork_threads fork_signal thread_churn; do
		run "modes/$t: prof:1" $HANG env PCMALLOC_CONF=prof:1,prof_rate:4K,prof_prefix:"$PWD/$LOGS/prof" \
			"$BUILD/tests/api/$t.static"
	done
	run "modes/mt_stress: prof:1 (LD_PRELOAD)" $HANG env \
		PCMALLOC_CONF=prof:1,prof_rate:4K,prof_prefix:"$PWD/$LOGS/prof" \
		LD_PRELOAD="$LIB" "$BUILD/tests/api/mt_stress.plain"
fi

if want fastpath; then
	run "fastpath/instruction budget" $HANG bash tests/fastpath.sh "$LIB"
fi

if want link; then
	run "link/static-full" $HANG "$BUILD/tests/link/static_full"
	run "link/cxx (LD_PRELOAD)" $HANG env LD_PRELOAD="$LIB" "$BUILD/tests/link/cxx_new"
	run "link/cxx (linked)" $HANG "$BUILD/tests/link/cxx_new.static"
	run "link/libc-only" $HANG bash -c "! readelf -d '$LIB' | grep NEEDED | grep -vE 'libc.so.6|ld-linux-x86-64.so.2'"
	run "link/conf" $HANG env PCMALLOC_LIB="$LIB" bash tests/link/conf.sh
	run "link/wrapper" $HANG env BUILD="$BUILD" bash tests/link/wrapper.sh
	run "link/install" $HANG env BUILD="$BUILD" bash tests/link/install.sh
	run "link/prof" $HANG env BUILD="$BUILD" PCMALLOC_LIB="$LIB" bash tests/link/prof.sh
	run "link/stats report (JSON, signal, interval)" $HANG env PCMALLOC_LIB="$LIB" bash tests/link/stats_report.sh
	run "link/pcmstat" $HANG env BUILD="$BUILD" bash tests/link/pcmstat.sh
	run "link/startup (system calls, page faults of a trivial program)" $HANG env BUILD="$BUILD" bash tests/link/startup.sh
	run "link/nochecks (the benchmark's build without the checks)" $HANG env BUILD="$BUILD" bash tests/link/nochecks.sh
	# The library built with clang, under the same API tests.
	if [ -f build-clang/libpcmalloc.so ]; then
		for t in api_basic percpu mt_stress; do
			run "link/clang-built: $t" $HANG env LD_PRELOAD="$PWD/build-clang/libpcmalloc.so" \
				"$BUILD/tests/api/$t.plain"
		done
	fi
fi

# Every API through failing mmap, mremap, madvise, brk and mprotect
# (build-fault: src/fault.h), with the debug checks on.
if want fault; then
	run "fault/fault_api" $HANG build-fault/tests/fault/fault_api
fi

# ThreadSanitizer over the allocator's internals, per-thread caches
# (tests/tsan/suppressions.txt: the races by design, each explained).
if want tsan; then
	run "tsan/tsan_mt" $HANG env PCMALLOC_CONF=percpu:0 \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$PWD/tests/tsan/suppressions.txt" \
		build-tsan/tsan_mt
fi

# The heap-misuse suite: its expected outcomes are in the program; glibc's
# are only listed, for comparison.
if want misuse; then
	M=$BUILD/tests/misuse/misuse
	run "misuse/default" 300 env PCM_MISUSE_MODE=default LD_PRELOAD="$LIB" "$M"
	run "misuse/secure (libpcmalloc-secure.so)" 300 env PCM_MISUSE_MODE=secure \
		LD_PRELOAD="$SECURE_LIB" "$M"
	run "misuse/secure (secure:1)" 300 env PCM_MISUSE_MODE=secure PCMALLOC_CONF=secure:1 \
		LD_PRELOAD="$LIB" "$M"
	run "misuse/glibc (listed, not judged)" 300 env PCM_MISUSE_MODE=other "$M"
fi

# The API tests again under the secure library (src/secure.h), but those
# that count what secure mode holds by design: api_introspect (large runs:
# secure mode maps those blocks), api_realloc (realloc(p, 0) must lower
# "allocated": the block waits in the quarantine), limits (ulimit -v: each
# block above 32 KiB takes 2 MiB of alignment and 2 MiB of guard gaps), and
# diag (its write-after-free case wants the block handed out again at once;
# the misuse suite judges secure mode's diagnoses), and cpu_capacity,
# cpu_grow, cpu_budget and xfer_demand (the per-CPU caches, which secure mode turns off).
if want secure; then
	for src in tests/api/*.c; do
		n=$(basename "$src" .c)
		case " api_introspect api_realloc limits diag cpu_capacity cpu_grow cpu_budget xfer_demand " in *" $n "*) continue ;; esac
		run "secure/$n" $HANG env LD_PRELOAD="$SECURE_LIB" "$BUILD/tests/api/$n.plain"
	done
	run "secure/link/cxx" 60 env LD_PRELOAD="$SECURE_LIB" "$BUILD/tests/link/cxx_new"
fi

if want blackbox; then
	for s in tests/blackbox/*.sh; do
		[ "$(basename "$s")" = deps.sh ] && continue
		run "blackbox/$(basename "$s" .sh)" $((HANG * 3)) env PCMALLOC_LIB="$LIB" \
			BLACKBOX_TIMEOUT=$HANG bash "$s"
	done
fi

if want valgrind; then
	VG=(valgrind -q --error-exitcode=99 --leak-check=no --soname-synonyms=somalloc=nouserintercepts)
	for t in "$BUILD"/tests/unit/test_*; do
		run "valgrind/unit/$(basename "$t")" $((HANG * 3)) "${VG[@]}" "$t"
	done
	# Under memcheck pcmalloc describes its blocks to it (src/vg.h): caches
	# off, freed blocks held back.  Tests of pcmalloc's own accounting run
	# with that off (valgrind:0), which puts pcmalloc's own code (caches,
	# background worker) under memcheck as it runs outside valgrind.
	plain=" api_introspect api_realloc mt_stress percpu stats_json thread_churn trim_race "
	for src in tests/api/*.c; do
		has_marker "$src" no-valgrind && continue
		n=$(basename "$src" .c)
		conf=
		[[ $plain == *" $n "* ]] && conf=valgrind:0
		run "valgrind/api/$n${conf:+ ($conf)}" $((HANG * 3)) env PCM_TEST_QUICK=1 \
			PCMALLOC_CONF=$conf "${VG[@]}" "$BUILD/tests/api/$n.static"
	done
	# Memcheck sees pcmalloc's blocks: exactly the seeded errors.
	run "valgrind/memcheck: seeded errors (libpcmalloc.a)" $HANG \
		bash tests/tools/memcheck.sh "$BUILD/tests/tools/memcheck_seeded" linked
	run "valgrind/memcheck: seeded errors (static)" $HANG \
		bash tests/tools/memcheck.sh "$BUILD/tests/tools/memcheck_seeded.static" static
fi

# The ASan case: sanitizers that own malloc, with pcmalloc in the process.
if want sanitizer; then
	run "sanitizer/pcmalloc steps aside" $HANG bash tests/tools/sanitizer.sh "$BUILD"
fi

# variant SUITE DIR MARKER: the unit tests of another build in DIR, and its
# API tests (linked) in quick mode, but for those marked MARKER.
variant() {
	local suite=$1 dir=$2 marker=$3
	if [ ! -d "$dir/tests" ]; then
		run "$suite/built" 1 false
		return
	fi
	for t in "$dir"/tests/unit/test_*; do
		run "$suite/unit/$(basename "$t")" $HANG "$t"
	done
	for src in tests/api/*.c; do
		has_marker "$src" "$marker" && continue
		n=$(basename "$src" .c)
		run "$suite/api/$n" $HANG env PCM_TEST_QUICK=1 "$dir/tests/api/$n.static"
	done
}

if want ubsan; then
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 variant ubsan build-ubsan no-sanitizer
fi

# The debug build (make debug, PCM_DEBUG=3): the unit tests, and the API
# tests linked with it in quick mode (the invariant walks after every slow
# path make it several times slower), but for those marked no-debug (RSS
# watched over seconds: the walks, not the allocator, would set the pace);
# the threaded stress and fork tests also at full size.
if want debug; then
	variant debug build-debug no-debug
	# Threads and fork repair at full size: lock order, fork repair.
	for n in mt_stress fork_threads; do
		run "debug/api/$n (full)" $HANG "build-debug/tests/api/$n.static"
	done
fi

echo
if [ $fail -gt 0 ]; then
	echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
