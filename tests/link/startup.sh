#!/usr/bin/env bash
# Start-up (issue 8 item 6): a program that makes a handful of small
# allocations maps and reads nothing that those allocations do not need.
# Under strace, tests/link/trivial linked with libpcmalloc.a makes, beyond
# what the same program makes with glibc's malloc (brk), only the system
# calls that shape its first arena (munmap of the alignment slack, mprotect
# of the reserve): no gettid (locks number threads themselves), no madvise
# (the huge-page policy is set when the arena grows past its first 1 MiB),
# no per-CPU regions (sysfs read, mmap, prctl naming, membarrier), no
# statistics page (memfd_create, ftruncate, fcntl, fstat): at most 2 more in
# all.  With 1000 allocations more, the warm-up ends: the statistics page is
# made (memfd_create), and where the kernel has rseq and membarrier the
# per-CPU regions are too.
#
# Page faults (minor, the whole process: tests/link/minflt, median of 11
# runs with address-space randomisation off, so that the count is the same
# every run): the trivial program with libpcmalloc.so preloaded takes at most
# MAX_FAULTS more than with a preloaded library that does nothing
# (tests/link/libempty.so), which is what loading any library costs.  Where
# they go (perf record -e page-faults -d): what pcmalloc's first allocations
# need: a slab page for each size class used (5 here), the arena's header
# and a page of its descriptors, its byte in the arena map, the size
# classes' records (1 page: 64-byte records, page-aligned, classes 1 to 63);
# less the 2 pages of glibc's own heap; and what the library adds to loading
# one: the first page of its .bss (free()'s mask/magic, copied at start-up),
# its read-only data, a second 64 KiB window of its code (fault-around maps
# 64 KiB of a file at a time): 5 + 3 + 1 - 2 + 3 = 10.  Its code is a
# segment of its own, apart from read-only data, which stays non-executable
# (one segment for both saved 2 faults, but cost 1 ns in every 4-16 KiB
# malloc/free pair).  Writable data written at start-up: RELRO (TLS image,
# GOT, tables of pointers, relocated by the loader: one page, which is why
# tables of names are rows of chars, not pointers), .data with __rseq_cs
# (one page, which is why the per-CPU null headers are read-only data;
# start-up's own globals are there, PCM_HOT), the first page of .bss (the
# mask/magic): an empty library writes two.  The size-class tables are
# read-only data.  glibc's fork-handler list
# (pthread_atfork) costs no fault in all: left out, the count is the same
# (exit's __unregister_atfork touches its page anyway).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
fail() { echo "startup.sh: $*" >&2; exit 1; }
command -v strace >/dev/null || fail "strace is not installed (make deps)"
[ -x "$B/tests/link/trivial" ] && [ -x "$B/tests/link/trivial.static" ] ||
	fail "build $B/tests/link/trivial and trivial.static first"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The names of the system calls made, one a line (the dynamic loader's are
# the same in both runs: libpcmalloc.a is linked in, not loaded).
calls() {
	local out=$1; shift
	env -u LD_PRELOAD -u PCMALLOC_CONF strace -f -qq -o "$tmp/raw" "$@" >/dev/null ||
		fail "strace $* failed: $(tail -3 "$tmp/raw" 2>/dev/null)"
	sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$tmp/raw" >"$out"
	[ -s "$out" ] || fail "strace recorded nothing for $*"
}
calls "$tmp/glibc" "$B/tests/link/trivial"
calls "$tmp/pcm" "$B/tests/link/trivial.static"
grep -q '^brk$' "$tmp/pcm" || fail "no brk: was the arena taken elsewhere?"
for c in memfd_create ftruncate fcntl membarrier prctl; do
	if grep -q "^$c\$" "$tmp/pcm" && ! grep -q "^$c\$" "$tmp/glibc"; then
		fail "a trivial program calls $c under pcmalloc: $(grep -E "^[0-9]* *$c\(" "$tmp/raw" | head -3)"
	fi
done
if grep -q 'openat(.*"/sys/' "$tmp/raw"; then
	fail "a trivial program reads sysfs under pcmalloc: $(grep 'openat(.*"/sys/' "$tmp/raw")"
fi
n_g=$(wc -l <"$tmp/glibc")
n_p=$(wc -l <"$tmp/pcm")
extra=$((n_p - n_g))
for c in gettid madvise; do
	if grep -q "^$c\$" "$tmp/pcm" && ! grep -q "^$c\$" "$tmp/glibc"; then
		fail "a trivial program calls $c under pcmalloc: $(grep -E "^[0-9]* *$c\(" "$tmp/raw" | head -3)"
	fi
done
[ "$extra" -le 2 ] || fail "pcmalloc adds $extra system calls to a trivial program (at most 2): $(
	diff <(sort "$tmp/glibc") <(sort "$tmp/pcm") | grep '^[<>]' | sort | uniq -c | tr '\n' ';')"
echo "startup.sh: a trivial program: $n_g system calls with glibc, $n_p with pcmalloc"

# Page faults, preloaded: against a library that does nothing.
MAX_FAULTS=10
[ -x "$B/tests/link/minflt" ] && [ -f "$B/tests/link/libempty.so" ] ||
	fail "build $B/tests/link/minflt and libempty.so first"
f_e=$("$B/tests/link/minflt" 11 "$PWD/$B/tests/link/libempty.so" "$B/tests/link/trivial") ||
	fail "minflt failed"
f_p=$("$B/tests/link/minflt" 11 "$PWD/$B/libpcmalloc.so" "$B/tests/link/trivial") ||
	fail "minflt failed"
echo "startup.sh: page faults of a trivial program: $f_e with an empty preloaded library, $f_p with pcmalloc"
[ $((f_p - f_e)) -le $MAX_FAULTS ] ||
	fail "pcmalloc adds $((f_p - f_e)) page faults to a trivial program (at most $MAX_FAULTS)"

# The data the loader relocates (RELRO) fits one page: a second one is one
# page fault more in every process (see above).
if command -v readelf >/dev/null; then
	relro=$(readelf -lW "$B/libpcmalloc.so" | awk '$1 == "GNU_RELRO" { print $3, $6 }')
	[ -n "$relro" ] || fail "libpcmalloc.so has no GNU_RELRO segment"
	read -r r_at r_size <<<"$relro"
	[ $(((r_at) >> 12)) -eq $(((r_at + r_size - 1) >> 12)) ] ||
		fail "libpcmalloc.so's RELRO data ($r_size bytes at $r_at) spans two pages: a table of pointers grew? (rows of chars need no relocation)"
	# Its writable segment (.data and .bss) is address space in every
	# process that loads it, and counts against RLIMIT_DATA: arrays sized
	# for the worst case belong in mappings made when needed (the transfer
	# caches' far slots: 7 MiB of .bss).
	rw=$(readelf -lW "$B/libpcmalloc.so" | awk '$1 == "LOAD" && $7 == "RW" { print $6 }')
	[ -n "$rw" ] && [ $((rw)) -le $((4 << 20)) ] ||
		fail "libpcmalloc.so's writable segment is $((rw)) bytes (at most 4 MiB)"
fi

# Past the warm-up: the page for pcmstat exists.
calls "$tmp/many" "$B/tests/link/trivial.static" 1000
grep -q '^memfd_create$' "$tmp/many" || fail "1000 allocations: no statistics page made"
if grep -q '^membarrier$' "$tmp/many"; then
	echo "startup.sh: after 1000 allocations: statistics page and per-CPU regions made"
else
	echo "startup.sh: after 1000 allocations: statistics page made (no membarrier: per-CPU mode off here)"
fi
echo "startup.sh: ok"
