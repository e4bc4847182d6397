#!/usr/bin/env bash
# Black-box test: gcc (driver, cc1, as, collect2, ld) compiling ~20k lines
# of generated C in three files with -O2 -g (two compiles in parallel, one
# with -pipe), then linking and running the program.  The object files, the
# executable, objdump output and the program's output must be identical with
# and without the allocator.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init gcc
bb_need /usr/bin/gcc /usr/bin/objdump /usr/bin/perl /usr/bin/sha256sum /usr/bin/bash

# The C sources are generated once, outside the measured runs: two large
# translation units (functions + a long table of string literals) and main.c.
cat >"$BB_TMP/gen.pl" <<'PL'
use strict;
use warnings;
my ($parts, $per, $nstr) = @ARGV;
my $hdr = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stdint.h>\n\n"
	. "struct rec { int32_t a; int64_t b; double c; char name[24]; };\n"
	. "typedef uint64_t (*fn_t)(uint64_t);\n"
	. "static inline uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 29; return x; }\n\n";
for my $p (0 .. $parts - 1) {
	open my $fh, '>', "part$p.c" or die "part$p.c: $!";
	print $fh $hdr;
	for my $f (0 .. $per - 1) {
		my $i = $p * $per + $f;
		my $k1 = ($i * 7919) % 97 + 3;
		my $k2 = ($i * 104729) % 31 + 2;
		my $tbl = join ', ', map { ($i * 31 + $_ * 17) % 1000 - 500 } 0 .. 15;
		my $x = sprintf '%x', $i * 2654435761 % 4294967296;
		my $c = $i % 3;
		print $fh <<"C";
static const int32_t tbl_$i\[16] = { $tbl };

static uint64_t step_$i(uint64_t x, const struct rec *r)
{
	switch (x % 5) {
	case 0:
		return x + (uint64_t)tbl_$i\[x & 15] * $k1;
	case 1:
		return x ^ ((uint64_t)(int64_t)tbl_$i\[(x >> 4) & 15] << ($k2 % 8));
	case 2:
		return x * 31 + (uint64_t)r[x & 3].a;
	case 3:
		return x - (uint64_t)(r[(x >> 2) & 3].b ^ $i);
	default:
		return (x << 1) | (x >> 63);
	}
}

uint64_t func_$i(uint64_t seed)
{
	struct rec r[4];
	uint64_t acc = seed ^ 0x${x}ULL;
	int i;

	memset(r, 0, sizeof r);
	for (i = 0; i < 4; i++) {
		r[i].a = (int32_t)(acc % 1000) - $k1;
		r[i].b = (int64_t)(acc >> 7) * $k2;
		r[i].c = (double)r[i].a / (double)(i + $k2);
		acc = mix(acc + (uint64_t)i);
	}
	snprintf(r[$c].name, sizeof r[$c].name, "f$i-%d", r[$c].a);
	for (i = 0; r[$c].name[i]; i++)
		acc = acc * 131 + (uint64_t)(unsigned char)r[$c].name[i];
	for (i = 0; i < 12; i++)
		acc = step_$i(acc + (uint64_t)i, r);
	return acc + (uint64_t)(int64_t)(r[1].c * 1000.0);
}

C
	}
	# A long table of string literals: cheap to optimize, heavy to parse.
	print $fh "static const char *const strs_$p\[] = {\n";
	for my $j (0 .. $nstr - 1) {
		my $s = join '', map { chr(97 + ($j * 7 + $_ * 13 + $p) % 26) } 0 .. $j % 40;
		print $fh "\t\"p$p-s$j-$s\",\n";
	}
	print $fh "};\n\n";
	print $fh "uint64_t strsum_$p(void)\n{\n\tuint64_t h = $p;\n\tsize_t i, j;\n\n";
	print $fh "\tfor (i = 0; i < sizeof strs_$p / sizeof strs_$p\[0]; i++)\n";
	print $fh "\t\tfor (j = 0; strs_$p\[i][j]; j++)\n";
	print $fh "\t\t\th = h * 131 + (unsigned char)strs_$p\[i][j];\n";
	print $fh "\treturn h;\n}\n";
	close $fh or die;
}
my $n = $parts * $per;
open my $fh, '>', 'main.c' or die "main.c: $!";
print $fh $hdr;
print $fh "uint64_t func_$_(uint64_t);\n" for 0 .. $n - 1;
print $fh "uint64_t strsum_$_(void);\n" for 0 .. $parts - 1;
print $fh "\nstatic const fn_t funcs[$n] = {\n";
print $fh "\tfunc_$_,\n" for 0 .. $n - 1;
print $fh "};\n\nint main(void)\n{\n";
print $fh "\tuint64_t acc = 1;\n\tchar *buf = malloc(1 << 20);\n\tsize_t len = 0;\n\tint i;\n\n";
print $fh "\tif (!buf)\n\t\treturn 1;\n";
print $fh "\tfor (i = 0; i < $n; i++) {\n";
print $fh "\t\tuint64_t v = funcs[i](acc);\n\n\t\tacc = mix(acc ^ v);\n";
print $fh "\t\tif (i % 25 == 0)\n";
print $fh "\t\t\tlen += (size_t)snprintf(buf + len, (1 << 20) - len, \"func_%d %016llx\\n\", i, (unsigned long long)v);\n";
print $fh "\t}\n\tfputs(buf, stdout);\n\tfree(buf);\n";
print $fh "\tprintf(\"strsum_$_ %016llx\\n\", (unsigned long long)strsum_$_());\n" for 0 .. $parts - 1;
print $fh "\tprintf(\"result %016llx\\n\", (unsigned long long)acc);\n\treturn 0;\n}\n";
close $fh or die;
PL
(cd "$BB_TMP/input" && /usr/bin/env -i /usr/bin/perl "$BB_TMP/gen.pl" 2 130 4000)

cat >"$BB_TMP/input/run.sh" <<'EOF'
set -euo pipefail
CFLAGS=(-O2 -g -Wall -Wextra -Werror -frandom-seed=pcmalloc)
echo "source lines $(/usr/bin/cat part0.c part1.c main.c | /usr/bin/wc -l)"
# The two big units are compiled in parallel (one through -pipe).
/usr/bin/gcc "${CFLAGS[@]}" -c part0.c -o part0.o &
p0=$!
/usr/bin/gcc "${CFLAGS[@]}" -pipe -c part1.c -o part1.o &
p1=$!
/usr/bin/gcc "${CFLAGS[@]}" -c main.c -o main.o
wait "$p0"
wait "$p1"
/usr/bin/gcc -O2 -o big main.o part0.o part1.o
./big
for f in part0.o part1.o main.o big; do
	echo "objdump $f $(/usr/bin/objdump -d "$f" | /usr/bin/sha256sum)"
done
/usr/bin/sha256sum part0.o part1.o main.o big
EOF

bb_run_both /usr/bin/bash run.sh
bb_compare
bb_compare_files part0.o part1.o main.o big
bb_expect_re '^source lines [0-9]{5}$'
bb_expect_re '^result [0-9a-f]{16}$'
bb_pass
