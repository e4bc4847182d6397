#!/usr/bin/env bash
# PCMALLOC_CONF: stats:1 prints the report at exit, malloc_stats() prints
# glibc's lines first, unknown keys and bad values are reported, verbose:1
# reports start-up and every setting, and tcache:0 / brk:0 / thp:never still run programs.
set -euo pipefail
lib=${PCMALLOC_LIB:?set PCMALLOC_LIB}
fail() { echo "conf.sh: $*" >&2; exit 1; }
run() { env LD_PRELOAD="$lib" "$@"; }

err=$(PCMALLOC_CONF=stats:1 run /bin/ls / 2>&1 >/dev/null)
grep -q "pcmalloc statistics" <<<"$err" || fail "stats:1 printed no report: $err"
grep -q "^slabinfo:" <<<"$err" || fail "no slabinfo in the report"
grep -q "^buddyinfo slab" <<<"$err" || fail "no buddyinfo in the report"

# Every error names the key and quotes the value refused, exactly.
expect_err() { # CONF LINE: running with PCMALLOC_CONF=CONF prints LINE
	local got
	got=$(PCMALLOC_CONF=$1 run /bin/ls / 2>&1 >/dev/null)
	grep -qxF "$2" <<<"$got" || fail "PCMALLOC_CONF=$1: expected the line '$2', got: $got"
}
expect_err bogus:1 "pcmalloc: PCMALLOC_CONF: unknown key 'bogus' (value '1') ignored"
expect_err stats:2 "pcmalloc: PCMALLOC_CONF: stats: '2' refused (wants 0, 1 or json)"
expect_err thp:sometimes "pcmalloc: PCMALLOC_CONF: thp: 'sometimes' refused (wants never, madvise or always)"
expect_err decay_ms:1k "pcmalloc: PCMALLOC_CONF: decay_ms: '1k' refused (wants a duration: milliseconds, or a number with unit ms or s)"
expect_err decay_ms:5min "pcmalloc: PCMALLOC_CONF: decay_ms: '5min' refused (wants a duration: milliseconds, or a number with unit ms or s)"
expect_err decay_ms:99999999999999999999 "pcmalloc: PCMALLOC_CONF: decay_ms: '99999999999999999999' refused (wants a duration: milliseconds, or a number with unit ms or s)"
expect_err decay_ms:20000000000000s "pcmalloc: PCMALLOC_CONF: decay_ms: '20000000000000s' refused (wants a duration: milliseconds, or a number with unit ms or s)"
expect_err dirty_max:17179869184G "pcmalloc: PCMALLOC_CONF: dirty_max: '17179869184G' refused (wants a size in bytes, or with unit k, M or G)"
expect_err dirty_max:8MB "pcmalloc: PCMALLOC_CONF: dirty_max: '8MB' refused (wants a size in bytes, or with unit k, M or G)"
expect_err dirty_max:-1 "pcmalloc: PCMALLOC_CONF: dirty_max: '-1' refused (wants a size in bytes, or with unit k, M or G)"
expect_err stats_signal:KILL "pcmalloc: PCMALLOC_CONF: stats_signal: 'KILL' refused (wants a signal that can be caught, by name or number, e.g. USR2)"
expect_err stats_signal:11 "pcmalloc: PCMALLOC_CONF: stats_signal: '11' refused (wants a signal that can be caught, by name or number, e.g. USR2)"
expect_err stats_interval:1h "pcmalloc: PCMALLOC_CONF: stats_interval: '1h' refused (wants a duration: seconds, or a number with unit ms or s)"
expect_err verbose "pcmalloc: PCMALLOC_CONF: 'verbose' refused (wants key:value)"

# verbose:1: every effective setting and where it came from.
err=$(PCMALLOC_CONF=verbose:1,decay_ms:2s,dirty_max:8M,stats_signal:SIGUSR2,stats_interval:500ms run /bin/ls / 2>&1 >/dev/null)
grep -q "pcmalloc: ready" <<<"$err" || fail "verbose:1 said nothing: $err"
for line in "decay_ms       = 2s       (PCMALLOC_CONF)" "dirty_max      = 8M       (PCMALLOC_CONF)" \
	"stats_signal   = USR2     (PCMALLOC_CONF)" "stats_interval = 500ms    (PCMALLOC_CONF)" \
	"verbose        = 1        (PCMALLOC_CONF)" "thp            = madvise  (default)" \
	"background     = 1        (default)" "stats          = 0        (default)"; do
	grep -qxF "pcmalloc: conf $line" <<<"$err" || fail "verbose:1 lacks '$line': $err"
done
err=$(PCMALLOC_CONF=verbose:1,decay_ms:1500 run /bin/ls / 2>&1 >/dev/null)
grep -qxF "pcmalloc: conf decay_ms       = 1500ms   (PCMALLOC_CONF)" <<<"$err" || fail "decay_ms:1500: $err"

out=$(run /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).malloc_stats()' 2>&1)
head -1 <<<"$out" | grep -q "^Arena 0:" || fail "malloc_stats does not start with glibc's lines: $out"
grep -q "^in use bytes" <<<"$out" || fail "no 'in use bytes' line"
grep -q "pcmalloc statistics" <<<"$out" || fail "malloc_stats lacks pcmalloc's report"

for conf in tcache:0 brk:0 thp:never thp:always dirty_max:0 decay_ms:0; do
	got=$(PCMALLOC_CONF=$conf run /usr/bin/sort -n <<<$'3\n1\n2' | tr '\n' ' ')
	[ "$got" = "1 2 3 " ] || fail "sort under $conf gave '$got'"
done
echo "conf.sh: ok"
