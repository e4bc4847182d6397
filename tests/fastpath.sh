#!/usr/bin/env bash
# The fast-path instruction budget.  Disassembles malloc and free from the
# shared library and counts the instructions on their fast path: from the
# entry, straight-line in address order, to the first ret (the compiler lays
# the likely path out that way; every slow path is a jump away).  Fails if a
# count exceeds tests/fastpath.budget; prints the listings so that a change
# shows in review.  Usage: fastpath.sh [path/to/libpcmalloc.so]
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build/libpcmalloc.so}
budget=tests/fastpath.budget
status=0
for fn in malloc free; do
	# The exported name is an alias: disassemble the first symbol at its address.
	addr=$(nm -D --defined-only "$lib" | awk -v f="$fn" '$3 == f { print $1 }')
	[ -n "$addr" ] || { echo "fastpath: no $fn in $lib"; exit 1; }
	dis=$(objdump -d --no-show-raw-insn --start-address=0x"$addr" \
		--stop-address=$((0x$addr + 512)) "$lib")
	listing=$(awk '/^ +[0-9a-f]+:\t/ { print; if ($0 ~ /\tret/) exit }' <<<"$dis")
	count=$(grep -c . <<<"$listing")
	max=$(awk -v f="$fn" '$1 == f { print $2 }' "$budget")
	echo "== $fn: $count instructions on the fast path (budget $max)"
	sed 's/^/   /' <<<"$listing"
	if [ "$count" -gt "$max" ]; then
		echo "fastpath: $fn grew to $count instructions, over its budget of $max"
		status=1
	fi
done
exit $status
