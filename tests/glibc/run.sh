#!/usr/bin/env bash
# glibc's own malloc tests (glibc 2.36 sources), built against a small shim
# of glibc's test support (tests/glibc/shim) and run with glibc's malloc
# and under LD_PRELOAD of pcmalloc.  Prints PASS/FAIL per test and the
# count for each allocator.  Not part of make test (it needs the sources):
#   make glibc-tests GLIBC_SRC=/path/to/glibc-2.36
# (apt-get source glibc, with a deb-src line for bookworm, fetches them).
set -u
cd "$(dirname "$0")/../.."
SRC=${GLIBC_SRC:?set GLIBC_SRC to glibc 2.36 sources (apt-get source glibc)}
BUILD=${BUILD:-build}
case $BUILD in /*) LIB=$BUILD/libpcmalloc.so ;; *) LIB=$PWD/$BUILD/libpcmalloc.so ;; esac
OUT=$BUILD/glibc-tests
TESTS="tst-calloc tst-free-errno tst-mallinfo2 tst-malloc-fork-deadlock
 tst-malloc-stats-cancellation tst-malloc-thread-exit tst-malloc-thread-fail
 tst-malloc-too-large tst-malloc-usable tst-malloc tst-malloc_info
 tst-mallocalign1 tst-mallocfork tst-mallocfork2 tst-mallocfork3 tst-mallopt
 tst-memalign tst-posix_memalign tst-pvalloc tst-realloc tst-reallocarray
 tst-trim1 tst-valloc tst-obstack tst-malloc-tcache-leak"
mkdir -p "$OUT/malloc"
cp tests/glibc/shim/test-skeleton.c "$OUT/"
SHIM=tests/glibc/shim
cc -O2 -g -D_GNU_SOURCE -I"$SHIM" -c "$SHIM/support.c" -o "$OUT/support.o" || exit 1
declare -A pass=([glibc]=0 [pcmalloc]=0)
n=0
for t in $TESTS; do
	cp "$SRC/malloc/$t.c" "$OUT/malloc/"
	if ! cc -O1 -g -w -D_GNU_SOURCE -I"$SHIM" -o "$OUT/$t" "$OUT/malloc/$t.c" \
		"$OUT/support.o" -pthread >"$OUT/$t.build.log" 2>&1; then
		echo "BUILD FAILED $t (see $OUT/$t.build.log)"
		continue
	fi
	n=$((n + 1))
	for who in glibc pcmalloc; do
		env=()
		[ $who = pcmalloc ] && env=(LD_PRELOAD="$LIB")
		# As glibc's malloc/Makefile runs it: exact usable sizes are
		# its malloc-check mode's (pcmalloc rounds up, as it may).
		[ $who = glibc ] && [ $t = tst-malloc-usable ] &&
			env=(MALLOC_CHECK_=3 LD_PRELOAD=/lib/x86_64-linux-gnu/libc_malloc_debug.so.0)
		(cd "$OUT" && env "${env[@]}" TIMEOUTFACTOR=${TIMEOUTFACTOR:-10} \
			timeout --kill-after=10 900 "./$t") >"$OUT/$t.$who.log" 2>&1
		rc=$?
		if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
			pass[$who]=$((pass[$who] + 1))
			printf 'PASS %-12s %s%s\n' $who "$t" "$([ $rc -eq 77 ] && echo ' (unsupported)')"
		else
			printf 'FAIL %-12s %s (exit %d)\n' $who "$t" $rc
			tail -n 5 "$OUT/$t.$who.log" | sed 's/^/     | /'
		fi
	done
done
echo "glibc: ${pass[glibc]} of $n passed; pcmalloc: ${pass[pcmalloc]} of $n passed"
