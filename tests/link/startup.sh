#!/usr/bin/env bash
# Start-up (issue 8 item 6): a program that makes a handful of small
# allocations maps and reads nothing that those allocations do not need.
# Under strace, tests/link/trivial linked with libpcmalloc.a makes, beyond
# what the same program makes with glibc's malloc, only the system calls of
# its first arena (brk, and munmap / mprotect / madvise to shape it) and
# gettid: no per-CPU regions (sysfs read, mmap, prctl naming, membarrier),
# no statistics page (memfd_create, ftruncate, fcntl, fstat): at most 4 more
# in all.  With 1000 allocations more, the warm-up ends: the statistics page
# is made (memfd_create), and where the kernel has rseq and membarrier the
# per-CPU regions are too.
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
[ "$extra" -le 4 ] || fail "pcmalloc adds $extra system calls to a trivial program (at most 4): $(
	diff <(sort "$tmp/glibc") <(sort "$tmp/pcm") | grep '^[<>]' | sort | uniq -c | tr '\n' ';')"
echo "startup.sh: a trivial program: $n_g system calls with glibc, $n_p with pcmalloc"

# Past the warm-up: the page for pcmstat exists.
calls "$tmp/many" "$B/tests/link/trivial.static" 1000
grep -q '^memfd_create$' "$tmp/many" || fail "1000 allocations: no statistics page made"
if grep -q '^membarrier$' "$tmp/many"; then
	echo "startup.sh: after 1000 allocations: statistics page and per-CPU regions made"
else
	echo "startup.sh: after 1000 allocations: statistics page made (no membarrier: per-CPU mode off here)"
fi
echo "startup.sh: ok"
