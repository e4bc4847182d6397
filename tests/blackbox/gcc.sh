#!/usr/bin/env bash
# Black-box test: gcc (driver, cc1, as, collect2, ld) compiling a generated
# ~20k-line C file with -O2 -g, then linking and running the program.  The
# object file, the executable, objdump output and the program's output must
# be identical with and without the allocator.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init gcc
bb_need /usr/bin/gcc /usr/bin/objdump /usr/bin/perl /usr/bin/sha256sum /usr/bin/bash

# The C source is generated once, outside the measured runs.
/usr/bin/env -i /usr/bin/perl -e '
	use strict; use warnings;
	my $n = 500;
	print "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stdint.h>\n\n";
	print "struct rec { int32_t a; int64_t b; double c; char name[24]; };\n";
	print "typedef uint64_t (*fn_t)(uint64_t);\n\n";
	print "static inline uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 29; return x; }\n\n";
	for my $i (0 .. $n - 1) {
		my $k1 = ($i * 7919) % 97 + 3;
		my $k2 = ($i * 104729) % 31 + 2;
		print <<"C";
static int32_t tbl_$i\[64] = { @{[ join ", ", map { ($i * 31 + $_ * 17) % 1000 - 500 } 0 .. 63 ]} };

static uint64_t helper_$i(uint64_t x, int depth)
{
	if (depth <= 0)
		return mix(x + $i);
	return helper_$i(x * $k1 + (uint64_t)tbl_$i\[x & 63], depth - 1) ^ (x >> $k2);
}

__attribute__((noinline)) uint64_t func_$i(uint64_t seed)
{
	struct rec r[8];
	uint64_t acc = seed ^ 0x${\ sprintf("%x", $i * 2654435761 % 4294967296) }ULL;
	int i, j;

	memset(r, 0, sizeof r);
	for (i = 0; i < 8; i++) {
		r[i].a = (int32_t)(acc % 1000) - $k1;
		r[i].b = (int64_t)(acc >> 7) * $k2;
		r[i].c = (double)r[i].a / (double)(i + $k2);
		snprintf(r[i].name, sizeof r[i].name, "f$i-%d-%d", i, r[i].a);
		acc = mix(acc + (uint64_t)i);
	}
	for (i = 0; i < 64; i++) {
		switch ((acc + (uint64_t)i) % 5) {
		case 0: acc += (uint64_t)tbl_$i\[i] * $k1; break;
		case 1: acc ^= (uint64_t)(tbl_$i\[i] << ($k2 % 8)); break;
		case 2: acc = acc * 31 + (uint64_t)r[i & 7].a; break;
		case 3: acc -= (uint64_t)(r[i & 7].b ^ $i); break;
		default: acc = (acc << 1) | (acc >> 63); break;
		}
	}
	for (i = 0; i < 8; i++)
		for (j = 0; r[i].name[j]; j++)
			acc = acc * 131 + (uint64_t)(unsigned char)r[i].name[j];
	acc += (uint64_t)(int64_t)(r[3].c * 1000.0);
	return helper_$i(acc, ${\ ($i % 5) });
}

C
	}
	print "static const fn_t funcs[$n] = {\n";
	print "\tfunc_$_,\n" for 0 .. $n - 1;
	print "};\n\n";
	print <<"C";
int main(void)
{
	uint64_t acc = 1;
	char *buf = malloc(1 << 20);
	size_t len = 0;
	int i;

	if (!buf)
		return 1;
	for (i = 0; i < $n; i++) {
		uint64_t v = funcs[i](acc);
		acc = mix(acc ^ v);
		if (i % 25 == 0)
			len += (size_t)snprintf(buf + len, (1 << 20) - len, "func_%d %016llx\\n", i, (unsigned long long)v);
	}
	fputs(buf, stdout);
	printf("result %016llx\\n", (unsigned long long)acc);
	free(buf);
	return 0;
}
C
' >"$BB_TMP/input/big.c"

cat >"$BB_TMP/input/run.sh" <<'EOF'
set -euo pipefail
echo "source lines $(/usr/bin/wc -l <big.c)"
/usr/bin/gcc -O2 -g -Wall -Wextra -frandom-seed=pcmalloc -c big.c -o big.o
/usr/bin/gcc -O2 -o big big.o
./big
/usr/bin/objdump -d big.o | /usr/bin/sha256sum
/usr/bin/objdump -d big | /usr/bin/sha256sum
/usr/bin/sha256sum big.o big
EOF

bb_run_both /usr/bin/bash run.sh
bb_compare big.o big
bb_expect_re '^source lines [0-9]{5}$'
bb_expect_re '^result [0-9a-f]{16}$'
bb_pass
