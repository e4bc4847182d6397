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

cat >"$BB_TMP/input/work.awk" <<'AWK'
{
	ip = $1; user = $3; status = $(NF - 1); bytes = $NF
	req = $5 " " $6
	gsub(/"/, "", req)
	n = split(req, parts, " ")
	method = parts[1]
	url = parts[2]
	q = index(url, "?")
	path = q ? substr(url, 1, q - 1) : url
	hits[ip]++
	ubytes[user] += bytes
	pathhits[path]++
	meth[method]++
	st[status]++
	seen[ip SUBSEP user]++
	key = sprintf("%s|%s|%s", method, path, status)
	combo[key]++
	nseg = split(path, seg, "/")
	for (i = 2; i <= nseg; i++)
		segcount[i ":" seg[i]]++
	# A string that keeps growing, then is cut back.
	acc = acc substr(ip, length(ip) - 1) user
	if (length(acc) > 100000)
		acc = substr(acc, 50001)
	total += bytes
}
END {
	printf "lines %d total %.0f acc_len %d acc_tail %s\n", NR, total, length(acc), substr(acc, length(acc) - 20)
	ni = 0; for (k in hits) ni++
	nu = 0; for (k in ubytes) nu++
	np = 0; for (k in pathhits) np++
	ns = 0; for (k in seen) ns++
	nc = 0; for (k in combo) nc++
	printf "ips %d users %d paths %d ip_user %d combos %d\n", ni, nu, np, ns, nc
	for (k in meth) print "method", k, meth[k] | "/usr/bin/sort"
	for (k in st) print "status", k, st[k] | "/usr/bin/sort"
	close("/usr/bin/sort")
	for (k in segcount) printf "seg %s %d\n", k, segcount[k] | "/usr/bin/sort"
	close("/usr/bin/sort")
	for (k in ubytes) printf "%012d %s\n", ubytes[k], k | "/usr/bin/sort -r | /usr/bin/sed -n 1,10p"
	close("/usr/bin/sort -r | /usr/bin/sed -n 1,10p")
	for (k in combo) printf "%08d %s\n", combo[k], k | "/usr/bin/sort -k1,1nr -k2 | /usr/bin/sed -n 1,15p"
	close("/usr/bin/sort -k1,1nr -k2 | /usr/bin/sed -n 1,15p")
	# Delete everything and rebuild a different table.
	for (k in hits) delete hits[k]
	for (k in seen) { split(k, kv, SUBSEP); pair[kv[2] "@" kv[1]] = length(k) }
	sum = 0; for (k in pair) sum += pair[k]
	printf "pairs sum %d\n", sum
	print "end"
}
AWK

bb_run_both /usr/bin/mawk -f work.awk access.log
bb_compare
bb_expect_re '^lines 250000 '
bb_expect_line 'end'
bb_pass
