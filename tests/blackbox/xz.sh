#!/usr/bin/env bash
# Black-box test: tar + xz round trip.  A ~5 MB tree of 200 generated files is
# archived reproducibly with tar, compressed by multi-threaded xz (-T2, 2 MiB
# blocks, so both threads work with their own ~100 MB of buffers), by
# single-threaded .lzma, decompressed again and extracted; the archives and
# the restored tree must match.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init xz
bb_need /usr/bin/xz /usr/bin/tar /usr/bin/perl /usr/bin/sha256sum /usr/bin/bash

# The input tree is generated once, outside the measured runs.
mkdir -p "$BB_TMP/input/tree"
cat >"$BB_TMP/gen.pl" <<'PL'
use strict; use warnings;
my $s = 424242;
sub r { $s = ($s * 1103515245 + 12345) % 2147483648; return $s >> 8; }
my @w = qw(lorem ipsum dolor sit amet consectetur adipiscing elit sed do
           eiusmod tempor incididunt ut labore et dolore magna aliqua);
for my $d (0 .. 9) {
	mkdir "tree/d$d" or die "mkdir: $!";
	for my $f (0 .. 19) {
		open my $fh, ">", "tree/d$d/f$f.dat" or die "open: $!";
		my $n = 300 + r() % 1000;
		for (1 .. $n) {
			if (r() % 8) { print $fh join(" ", map { $w[r() % @w] } 1 .. 1 + r() % 9), "\n"; }
			else { print $fh pack("N*", map { r() } 1 .. 1 + r() % 8), "\n"; }
		}
		close $fh or die "close: $!";
	}
}
PL
(cd "$BB_TMP/input" && /usr/bin/env -i /usr/bin/perl "$BB_TMP/gen.pl")

cat >"$BB_TMP/input/run.sh" <<'EOF'
set -euo pipefail
TAROPTS=(--sort=name --mtime=@1600000000 --owner=0 --group=0 --numeric-owner --format=gnu)
/usr/bin/tar "${TAROPTS[@]}" -cf data.tar tree
/usr/bin/xz -T2 -6 --block-size=2MiB -c data.tar >data.tar.xz
/usr/bin/xz --format=lzma -3 -c data.tar >data.tar.lzma
/usr/bin/xz -T2 -d -c data.tar.xz >back1.tar
/usr/bin/xz -d -c data.tar.lzma >back2.tar
/usr/bin/cmp data.tar back1.tar
/usr/bin/cmp data.tar back2.tar
mkdir out
/usr/bin/tar -xJf data.tar.xz -C out
/usr/bin/diff -r tree out/tree
echo "roundtrip ok"
/usr/bin/xz -l --robot data.tar.xz
/usr/bin/sha256sum data.tar data.tar.xz data.tar.lzma
/usr/bin/tar -tvf data.tar | /usr/bin/sha256sum
EOF

bb_run_both /usr/bin/bash run.sh
bb_compare
bb_compare_files data.tar data.tar.xz data.tar.lzma
bb_expect_line 'roundtrip ok'
bb_pass
