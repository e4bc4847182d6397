#!/usr/bin/env bash
# The pcmalloc wrapper (BUILD/pcmalloc, made from tools/pcmalloc.in) runs a
# program under pcmalloc with its statistics: --stats and --conf become
# PCMALLOC_CONF settings after the environment's, the library goes first in
# LD_PRELOAD, the program's arguments, output and exit status pass through;
# --prof writes a heap profile at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
w=${BUILD:-build}/pcmalloc
fail() { echo "wrapper.sh: $*" >&2; exit 1; }
[ -x "$w" ] || fail "no $w (make builds it)"

out=$("$w" --stats /usr/bin/sort -n <<<$'3\n1\n2' 2>"$w.err")
[ "$out" = $'1\n2\n3' ] || fail "sort under the wrapper printed '$out'"
grep -q "pcmalloc statistics" "$w.err" || fail "--stats printed no report: $(cat "$w.err")"

# --conf, and the environment's settings kept in front of the wrapper's.
env=$(PCMALLOC_CONF=thp:never LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 \
	"$w" --conf tcache:0 --conf=decay_ms:5 --stats -- /usr/bin/env 2>/dev/null)
grep -qx "PCMALLOC_CONF=thp:never,tcache:0,decay_ms:5,stats:1" <<<"$env" ||
	fail "wrong PCMALLOC_CONF: $(grep PCMALLOC_CONF <<<"$env")"
grep -qE "^LD_PRELOAD=/.*libpcmalloc.so.1 /lib/x86_64-linux-gnu/libc.so.6$" <<<"$env" ||
	fail "wrong LD_PRELOAD: $(grep LD_PRELOAD <<<"$env")"

# The program really runs on pcmalloc (verbose:1 reports start-up).
err=$("$w" --conf verbose:1 /bin/ls / 2>&1 >/dev/null)
grep -q "pcmalloc: ready" <<<"$err" || fail "verbose:1 under the wrapper said nothing: $err"

# --prof: the heap profile is written at exit.
tmp=$(mktemp -d)
"$w" --prof --conf "prof_prefix:$tmp/w" /usr/bin/sort -n <<<$'3\n1\n2' >/dev/null 2>"$tmp/err" ||
	fail "--prof: the program failed: $(cat "$tmp/err")"
ls "$tmp"/w.*.0.heap >/dev/null 2>&1 || fail "--prof wrote no profile: $(cat "$tmp/err")"
head -1 "$tmp"/w.*.0.heap | grep -q "^heap profile: .*@ heap_v2/524288$" || fail "--prof: bad profile header"
rm -rf "$tmp"

# Exit status and arguments with spaces pass through.
set +e
"$w" /bin/sh -c 'exit 7' ; rc=$?
"$w" --bogus /bin/true 2>/dev/null; bad=$?
"$w" --lib /nonexistent.so /bin/true 2>/dev/null; nolib=$?
set -e
[ $rc = 7 ] || fail "exit status $rc, not 7"
[ $bad = 2 ] || fail "an unknown option gave $bad, not 2"
[ $nolib = 127 ] || fail "a missing library gave $nolib, not 127"
[ "$("$w" /usr/bin/printf '%s|' 'a b' c)" = "a b|c|" ] || fail "arguments mangled"
"$w" --help | grep -q "^usage: pcmalloc" || fail "--help"
rm -f "$w.err"
echo "wrapper.sh: ok"
