#!/usr/bin/env bash
# The heap profiler, judged through google-pprof (Debian's google-perftools):
# prof_sites (tests/link/prof_sites.c) keeps 20,480,000 bytes live from
# site_small (512-byte blocks), 40,960,000 from site_large (8 KiB blocks),
# 24 MiB from site_huge and frees everything site_freed allocated.  Preloaded
# and linked statically, with prof:1,prof_rate:16K:
#  - `google-pprof --text` of pcmalloc_prof_dump's file names site_small,
#    site_large and site_huge with their live bytes, and site_large about
#    twice site_small; site_freed holds nothing; --alloc_space shows it;
#  - the tolerance comes from the sampling statistics: a block of s bytes
#    is sampled with probability p = 1 - exp(-s/R) and counts s/p, so N
#    such blocks are estimated with a standard deviation of
#    N s sqrt((1-p)/(N p)); estimates must fall within 5 of those (a false
#    failure about once in 1.7 million runs);
#  - prof_signal:USR1 and the exit each write PREFIX.PID.SEQ.heap;
#  - without prof:1, pcmalloc_prof_dump fails with EINVAL and no file.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
lib=${PCMALLOC_LIB:-$PWD/$B/libpcmalloc.so}
fail() { echo "prof.sh: $*" >&2; exit 1; }
command -v google-pprof >/dev/null || fail "google-pprof is missing (apt-get install google-perftools)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rate=16384

check() { # check NAME PROGRAM DUMP: the text report against the expectations
	local name=$1 prog=$2 dump=$3
	google-pprof --text "$prog" "$dump" >"$tmp/$name.inuse" 2>"$tmp/$name.err" ||
		fail "$name: google-pprof failed: $(cat "$tmp/$name.err")"
	google-pprof --text --alloc_space "$prog" "$dump" >"$tmp/$name.alloc" 2>>"$tmp/$name.err" ||
		fail "$name: google-pprof --alloc_space failed"
	echo "== $name: google-pprof --text"
	cat "$tmp/$name.inuse"
	python3 - "$tmp/$name.inuse" "$tmp/$name.alloc" "$rate" "$name" <<'PY' || exit 1
import math, re, sys
inuse, alloc, R, name = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
MiB = 1048576.0

def flat(path):
    out = {}
    for line in open(path):
        m = re.match(r"\s*([\d.]+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+(\S+)", line)
        if m:
            out[m.group(2)] = float(m.group(1)) * MiB
    return out

def expect(got, fn, n, s, what):
    p = 1 - math.exp(-s / R)
    true = n * s
    sd = true * math.sqrt((1 - p) / (n * p)) + 0.05 * MiB  # + pprof's rounding
    val = got.get(fn)
    if val is None:
        sys.exit("prof.sh: %s: google-pprof does not name %s (%s)" % (name, fn, what))
    print("%s: %s %s %.2f MiB, expected %.2f +- %.2f (5 sd)" % (
        name, what, fn, val / MiB, true / MiB, 5 * sd / MiB))
    if abs(val - true) > 5 * sd:
        sys.exit("prof.sh: %s: %s of %s is %.2f MiB, expected %.2f +- %.2f"
                 % (name, what, fn, val / MiB, true / MiB, 5 * sd / MiB))
    return val, sd / true

live = flat(inuse)
a, ra = expect(live, "site_small", 40000, 512, "live")
b, rb = expect(live, "site_large", 5000, 8192, "live")
expect(live, "site_huge", 4, 6 * MiB, "live")
if live.get("site_freed", 0) > 0.05 * MiB:
    sys.exit("prof.sh: %s: site_freed holds %.2f MiB live after freeing everything"
             % (name, live["site_freed"] / MiB))
# site_large holds twice what site_small holds
r, rsd = b / a, math.hypot(ra, rb)
print("%s: site_large / site_small = %.3f, expected 2 +- %.3f (5 sd)" % (name, r, 10 * rsd))
if abs(r - 2) > 10 * rsd:
    sys.exit("prof.sh: %s: site_large / site_small = %.3f, not 2 within %.3f" % (name, r, 10 * rsd))
expect(flat(alloc), "site_freed", 20000, 1024, "allocated")
PY
}

for mode in preload static; do
	if [ $mode = preload ]; then
		prog=$PWD/$B/tests/link/prof_sites
		run=(env LD_PRELOAD="$lib")
	else
		prog=$PWD/$B/tests/link/prof_sites.static
		run=(env)
	fi
	out=$(cd "$tmp" && "${run[@]}" \
		PCMALLOC_CONF=prof:1,prof_rate:16K,prof_prefix:$tmp/auto-$mode,prof_signal:USR1 \
		"$prog" "$tmp/$mode.heap" signal 2>"$tmp/$mode.stderr") ||
		fail "$mode: the program failed: $(cat "$tmp/$mode.stderr")"
	[ "$out" = done ] || fail "$mode: the program printed '$out'"
	head -1 "$tmp/$mode.heap" | grep -qE '^heap profile: +[0-9]+: +[0-9]+ \[ *[0-9]+: +[0-9]+\] @ heap_v2/16384$' ||
		fail "$mode: bad header: $(head -1 "$tmp/$mode.heap")"
	grep -qx "MAPPED_LIBRARIES:" "$tmp/$mode.heap" || fail "$mode: no MAPPED_LIBRARIES section"
	check "$mode" "$prog" "$tmp/$mode.heap"
	# The signal's dump (SEQ 0) and the exit's (SEQ 1).
	for seq in 0 1; do
		f=$(ls "$tmp"/auto-$mode.*.$seq.heap 2>/dev/null) ||
			fail "$mode: no automatic dump $seq: $(cat "$tmp/$mode.stderr")"
		head -1 "$f" | grep -q "@ heap_v2/16384" || fail "$mode: bad dump $f"
	done
	grep -q "heap profile (signal) written to" "$tmp/$mode.stderr" || fail "$mode: signal dump not reported"
	grep -q "heap profile (exit) written to" "$tmp/$mode.stderr" || fail "$mode: exit dump not reported"
	check "$mode-signal" "$prog" "$(ls "$tmp"/auto-$mode.*.0.heap)"
done

# Off: pcmalloc_prof_dump refuses, and nothing is written.
plain=$PWD/$B/tests/link/prof_sites
if (cd "$tmp" && env LD_PRELOAD="$lib" "$plain" "$tmp/off.heap") 2>"$tmp/off.err"; then
	fail "pcmalloc_prof_dump succeeded with the profiler off"
fi
grep -q "Invalid argument" "$tmp/off.err" || fail "off: not EINVAL: $(cat "$tmp/off.err")"
[ ! -e "$tmp/off.heap" ] || fail "off: a dump was written"
ls "$tmp"/pcmalloc.*.heap >/dev/null 2>&1 && fail "off: an exit dump was written"
echo "prof.sh: ok"
