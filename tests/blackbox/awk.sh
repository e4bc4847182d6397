#!/usr/bin/env bash
# Black-box test: mawk over a ~20 MB generated log: associative arrays with
# hundreds of thousands of keys, split, gsub, sprintf, substr, growing
# strings, and output piped through sort (spawned by awk, also preloaded).
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init awk
bb_need /usr/bin/mawk /usr/bin/perl /usr/bin/sort

# The input is generated once, outside the measured runs.
cat >"$BB_TMP/gen.pl" <<'PL'
my $s = 13579;
sub r { $s = ($s * 1103515245 + 12345) % 2147483648; return $s >> 8; }
my @m = qw(GET POST PUT DELETE HEAD);
my @p = qw(index api user item cart login logout search static img);
for my $i (1 .. 250_000) {
	my $ip = join ".", 10, r() % 8, r() % 256, r() % 256;
	my $path = join "/", "", map { $p[r() % @p] } 1 .. 1 + r() % 4;
	printf "%s - u%d [%06d] \"%s %s?id=%d HTTP/1.1\" %d %d\n", $ip, r() % 5000, $i,
		$m[r() % @m], $path, r() % 100000, (200, 200, 200, 301, 404, 500)[r() % 6], r() % 50000;
}
PL
/usr/bin/env -i /usr/bin/perl "$BB_TMP/gen.pl" >"$BB_TMP/input/access.log"

# The same awk program as the benchmark's awk workload.
cp "$(dirname -- "${BASH_SOURCE[0]}")/../../bench/real/work.awk" "$BB_TMP/input/work.awk"

bb_run_both /usr/bin/mawk -f work.awk access.log
bb_compare
bb_expect_re '^lines 250000 '
bb_expect_line 'end'
bb_pass
