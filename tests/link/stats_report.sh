#!/usr/bin/env bash
# The report (issue 10): stats:1 shows current and peak with units and a
# legend; stats:json at exit is one valid JSON object (python3 -m json.tool)
# with schema 1; stats_signal:USR2 writes the report when the signal comes
# (text, or JSON with stats:json); stats_interval writes it repeatedly.
set -euo pipefail
lib=${PCMALLOC_LIB:?set PCMALLOC_LIB}
fail() { echo "stats_report.sh: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

err=$(env LD_PRELOAD="$lib" PCMALLOC_CONF=stats:1 /bin/ls / 2>&1 >/dev/null)
for want in "current           peak" "allocated: " "resident (est.): " "mapped: " \
	"MiB = 2^20 bytes" "objs-out = objects out of the slabs" "order n is 2^n pages"; do
	grep -qF "$want" <<<"$err" || fail "stats:1 lacks '$want': $err"
done
grep -q "free pages [0-9]* = [0-9.]* MiB" <<<"$err" || fail "free pages without a unit: $err"

env LD_PRELOAD="$lib" PCMALLOC_CONF=stats:json /bin/ls / 2>"$tmp/exit.json" >/dev/null
python3 -m json.tool "$tmp/exit.json" >/dev/null || fail "stats:json is not valid JSON: $(head -c 600 "$tmp/exit.json")"
python3 - "$tmp/exit.json" <<'PY' || fail "stats:json lacks fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1
for k in ("allocated", "resident", "mapped"):
    assert d[k]["peak"] >= d[k]["current"] >= 0, (k, d[k])
assert d["mapped"]["current"] > 0 and d["zones"][0]["name"] == "slab"
assert all(len(z["free_blocks_by_order"]) == 13 for z in d["zones"])
PY

# stats_signal: the report each time the signal comes.  `sleep` is the
# program: pcmalloc starts at its first malloc (setlocale), before it sleeps.
waitfor() { # FILE COUNT PATTERN: wait (at most 60 s) for COUNT lines matching
	for _ in $(seq 600); do
		[ "$(grep -c "$3" "$1" 2>/dev/null || true)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
env LD_PRELOAD="$lib" PCMALLOC_CONF=stats_signal:USR2,verbose:1 sleep 120 2>"$tmp/sig.txt" &
spid=$!
waitfor "$tmp/sig.txt" 1 "pcmalloc: ready" || fail "no start-up line: $(cat "$tmp/sig.txt")"
kill -USR2 $spid
waitfor "$tmp/sig.txt" 1 "pcmalloc statistics" || fail "no report after SIGUSR2"
kill -USR2 $spid
waitfor "$tmp/sig.txt" 2 "pcmalloc statistics" || fail "no second report after SIGUSR2"
kill -0 $spid || fail "the program died of SIGUSR2"
kill $spid; wait $spid 2>/dev/null || true

env LD_PRELOAD="$lib" PCMALLOC_CONF=stats_signal:SIGUSR1,stats:json,verbose:1 sleep 120 2>"$tmp/sigj.txt" &
spid=$!
waitfor "$tmp/sigj.txt" 1 "pcmalloc: ready" || fail "no start-up line"
kill -USR1 $spid
waitfor "$tmp/sigj.txt" 1 '"zones"' || fail "no JSON report after SIGUSR1"
kill $spid; wait $spid 2>/dev/null || true
grep -v "^pcmalloc: " "$tmp/sigj.txt" >"$tmp/sig.json"
python3 -m json.tool "$tmp/sig.json" >/dev/null || fail "the JSON written on the signal is invalid"

# stats_interval: reports keep coming while the program sleeps.
env LD_PRELOAD="$lib" PCMALLOC_CONF=stats_interval:100ms sleep 120 2>"$tmp/int.txt" &
ipid=$!
waitfor "$tmp/int.txt" 3 "pcmalloc statistics" || fail "fewer than 3 reports at stats_interval:100ms"
kill $ipid; wait $ipid 2>/dev/null || true
echo "stats_report.sh: ok"
