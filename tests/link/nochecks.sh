#!/usr/bin/env bash
# libpcmalloc-nochecks.so (PCM_CHECKS=0 in src/config.h) exists only so that
# the benchmark can measure what the default mode's misuse checks cost.  The
# comparison means something only if that library is pcmalloc less exactly
# those checks: it passes the API tests that do not judge diagnoses, it still
# diagnoses what the checks are not (double and interior frees), and the
# misuses those checks catch go through it silently.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
LIB=$PWD/$B/libpcmalloc-nochecks.so
fail() { echo "nochecks.sh: $*" >&2; exit 1; }
[ -f "$LIB" ] || fail "build $LIB first (make $B/libpcmalloc-nochecks.so)"

for t in api_basic api_align api_errno api_introspect api_realloc mt_stress fork_threads; do
	env LD_PRELOAD="$LIB" PCM_REQUIRE_ACTIVE=1 "$B/tests/api/$t.plain" >/dev/null ||
		fail "$t failed under $LIB"
done

# misuse CASE SIZE: the outcome letter the misuse suite gives under LIB.
table=$(env PCM_MISUSE_MODE=other LD_PRELOAD="$LIB" "$B/tests/misuse/misuse" 2>&1) ||
	fail "the misuse suite did not run: $(tail -3 <<<"$table")"
outcome() { awk -v c="$1" -v s="$2" '$1 == c && $2 == s { print $3 }' <<<"$table"; }
expect() {
	local got
	got=$(outcome "$1" "$2")
	[ "$got" = "$3" ] || fail "$1 $2: outcome '$got', want '$3' (the default library: see tests/misuse)"
}
# What the checks catch in the default library (A or F there): silent here.
expect uaf-zero 4096 S           # key word checked on reuse
expect free-sized-wrong 8 S      # sized deallocation checked
expect delete-sized-wrong 4096 S
expect malloc0-read - S          # malloc(0) in an inaccessible region
expect malloc0-write-freed - S
# What they are not: the same as in the default library.
for s in 8 4096 262144; do
	expect double-free $s A
	expect interior-free $s A
done
echo "nochecks.sh: the variant passes the API tests and lacks exactly the checks"
