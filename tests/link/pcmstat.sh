#!/usr/bin/env bash
# pcmstat (issue 10): `pcmstat -1 --json PID` on a live process agrees with
# the process's own statistics (pcmalloc_stats_print_json, taken while the
# process allocates nothing); the JSON is valid for `python3 -m json.tool`;
# a fork child publishes its own figures (its pid, its extra 6 MiB); the
# text screen shows the totals and the class table; a process that is not
# using pcmalloc is refused in one line.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
pcmstat=$B/pcmstat
live=$B/tests/tools/live
fail() { echo "pcmstat.sh: $*" >&2; exit 1; }
[ -x "$pcmstat" ] && [ -x "$live" ] || fail "build $pcmstat and $live first"
tmp=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null || true; kill $lpid 2>/dev/null || true; rm -rf "$tmp"' EXIT

mkfifo "$tmp/in"
"$live" <"$tmp/in" >"$tmp/out" &
lpid=$!
exec 3>"$tmp/in"
for _ in $(seq 600); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.1; done
read -r _ pid child <"$tmp/out" || fail "live process did not start"
[ "$pid" = "$lpid" ] || fail "pid $pid, expected $lpid"

# -t: generous; the answer normally comes at once from the worker.
"$pcmstat" -1 --json -t 60 "$pid" >"$tmp/pcmstat.json" || fail "pcmstat -1 --json failed"
python3 -m json.tool "$tmp/pcmstat.json" >/dev/null || fail "pcmstat's JSON is invalid"
echo "dump $tmp/self.json" >&3
for _ in $(seq 600); do grep -q dumped "$tmp/out" && break; sleep 0.1; done
python3 -m json.tool "$tmp/self.json" >/dev/null || fail "the process's own JSON is invalid"
python3 - "$tmp/pcmstat.json" "$tmp/self.json" "$pid" <<'PY' || fail "pcmstat and the process disagree"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
pid = int(sys.argv[3])
assert a["schema"] == b["schema"] == 1, (a["schema"], b["schema"])
assert a["pid"] == b["pid"] == pid, (a["pid"], b["pid"], pid)
# Quiescent: what the background worker may still do (drain caches, purge)
# changes neither allocated, nor mapped, nor the live huge blocks.
for k in ("allocated", "mapped"):
    assert a[k]["current"] == b[k]["current"], (k, a[k], b[k])
assert a["allocated_by_kind"] == b["allocated_by_kind"], (a["allocated_by_kind"], b["allocated_by_kind"])
assert a["huge"] == b["huge"], (a["huge"], b["huge"])
assert a["allocated"]["current"] >= (24 + 3 + 9) << 20, a["allocated"]
ca = {c["class"]: c["objs_out"] - 0 for c in a["classes"]}
assert len(a["classes"]) > 0 and len(a["zones"]) == 2
print("pcmstat.sh: pcmstat and the process agree: allocated", a["allocated"]["current"])
PY

# The fork child publishes its own page.
"$pcmstat" -1 --json -t 60 "$child" >"$tmp/child.json" || fail "pcmstat on the fork child failed"
python3 - "$tmp/child.json" "$tmp/self.json" "$child" <<'PY' || fail "the child's figures are not its own"
import json, sys
c, p = (json.load(open(x)) for x in sys.argv[1:3])
assert c["pid"] == int(sys.argv[3]), (c["pid"], sys.argv[3])
assert c["allocated"]["current"] >= p["allocated"]["current"] + (6 << 20) - (1 << 20), \
    (c["allocated"], p["allocated"])
PY

# The screen.
"$pcmstat" -1 -t 60 "$pid" >"$tmp/screen" || fail "pcmstat -1 failed"
for want in "pid $pid (live)" "allocated" "resident (est.)" "mapped" "buddyinfo slab" "CLASS" "per-CPU fill\|per-thread\|no caches"; do
	grep -q "$want" "$tmp/screen" || fail "the screen lacks '$want': $(cat "$tmp/screen")"
done
"$pcmstat" -1 -s objs -n 3 -t 60 "$pid" | grep -q "(sorted by objs)" || fail "-s objs"

echo exit >&3
wait "$lpid" || fail "live process failed"

# A process without pcmalloc.
sleep 30 &
spid=$!
msg=$("$pcmstat" -1 "$spid" 2>&1 >/dev/null) && fail "pcmstat on a process without pcmalloc succeeded"
kill $spid
grep -q "publishes no pcmalloc statistics" <<<"$msg" || fail "message: $msg"
echo "pcmstat.sh: ok"
