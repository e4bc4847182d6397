#!/usr/bin/env bash
# Black-box test: GNU sort on a ~55 MB generated file (fixed seed) with a
# 200 MB buffer and two threads, so the whole input is sorted in memory:
# plain sort, sort -u on a key, numeric multi-key sort, and a reverse sort
# with a small buffer that spills to temporary files and merges them.
# Every output file is compared byte-for-byte; two are checked with sort -c.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init sort
bb_need /usr/bin/sort /usr/bin/perl /usr/bin/bash

# The input is generated once, outside the measured runs.
cat >"$BB_TMP/gen.pl" <<'PL'
my $s = 987654321;
sub r { $s = ($s * 1103515245 + 12345) % 2147483648; return $s >> 8; }
my @w = qw(alpha bravo charlie delta echo foxtrot golf hotel india juliet
           kilo lima mike november oscar papa quebec romeo sierra tango);
for my $i (1 .. 1_200_000) {
	my $a = r(); my $b = r(); my $c = r();
	printf "%s%d %s-%04d %d %s\n", $w[$a % 20], $a % 997, $w[int($b / 5000) % 20],
		$b % 5000, $c % 1000000, "x" x ($c % 37);
}
PL
/usr/bin/env -i /usr/bin/perl "$BB_TMP/gen.pl" >"$BB_TMP/input/data.txt"

cat >"$BB_TMP/input/run.sh" <<'EOF'
set -euo pipefail
S=/usr/bin/sort
$S -S 200M --parallel=2 -o out.sorted data.txt
$S -u -k2,2 -S 200M --parallel=2 -o out.uniq data.txt
$S -u -k2 -S 200M -o out.uniq2 data.txt
$S -s -n -k3,3 -k1,1 -S 200M --parallel=2 -o out.num data.txt
$S -r -S 4M -T "$TMPDIR" -o out.rev data.txt
$S -c out.sorted
$S -c -s -n -k3,3 -k1,1 out.num
echo "checked"
for f in out.sorted out.uniq out.uniq2 out.num out.rev; do
	printf '%s %s\n' "$f" "$(/usr/bin/wc -l <"$f")"
done
/usr/bin/head -n 3 out.sorted out.uniq out.num out.rev
EOF

bb_run_both /usr/bin/bash run.sh
bb_compare
bb_compare_files out.sorted out.uniq out.uniq2 out.num out.rev
bb_expect_line 'checked'
bb_expect_line 'out.sorted 1200000'
bb_expect_re '^out\.uniq 9[0-9]{4}$'
bb_pass
