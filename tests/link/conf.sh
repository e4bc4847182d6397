#!/usr/bin/env bash
# PCMALLOC_CONF: stats:1 prints the report at exit, malloc_stats() prints
# glibc's lines first, unknown keys and bad values are reported, verbose:1
# reports start-up, and tcache:0 / brk:0 / thp:never still run programs.
set -euo pipefail
lib=${PCMALLOC_LIB:?set PCMALLOC_LIB}
fail() { echo "conf.sh: $*" >&2; exit 1; }
run() { env LD_PRELOAD="$lib" "$@"; }

err=$(PCMALLOC_CONF=stats:1 run /bin/ls / 2>&1 >/dev/null)
grep -q "pcmalloc statistics" <<<"$err" || fail "stats:1 printed no report: $err"
grep -q "^slabinfo:" <<<"$err" || fail "no slabinfo in the report"
grep -q "^buddyinfo slab" <<<"$err" || fail "no buddyinfo in the report"

err=$(PCMALLOC_CONF=bogus:1,stats:2,thp:sometimes run /bin/ls / 2>&1 >/dev/null)
grep -q "unknown key 'bogus'" <<<"$err" || fail "unknown key not reported: $err"
grep -q "stats wants 0 or 1" <<<"$err" || fail "bad value not reported: $err"
grep -q "thp wants never, madvise or always" <<<"$err" || fail "bad thp not reported"

err=$(PCMALLOC_CONF=verbose:1 run /bin/ls / 2>&1 >/dev/null)
grep -q "pcmalloc: ready" <<<"$err" || fail "verbose:1 said nothing: $err"

out=$(run /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).malloc_stats()' 2>&1)
head -1 <<<"$out" | grep -q "^Arena 0:" || fail "malloc_stats does not start with glibc's lines: $out"
grep -q "^in use bytes" <<<"$out" || fail "no 'in use bytes' line"
grep -q "pcmalloc statistics" <<<"$out" || fail "malloc_stats lacks pcmalloc's report"

for conf in tcache:0 brk:0 thp:never thp:always dirty_max:0 decay_ms:0; do
	got=$(PCMALLOC_CONF=$conf run /usr/bin/sort -n <<<$'3\n1\n2' | tr '\n' ' ')
	[ "$got" = "1 2 3 " ] || fail "sort under $conf gave '$got'"
done
echo "conf.sh: ok"
