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
