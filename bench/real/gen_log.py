#!/usr/bin/env python3
"""Writes a web-server style access log for the awk workload:
gen_log.py OUT [lines=400000]."""
import sys

out = sys.argv[1]
lines = int(sys.argv[2]) if len(sys.argv) > 2 else 400000
s = 13579


def r():
    global s
    s = (s * 1103515245 + 12345) % 2147483648
    return s >> 8


methods = ["GET", "POST", "PUT", "DELETE", "HEAD"]
parts = ["index", "api", "user", "item", "cart", "login", "logout", "search",
         "static", "img"]
with open(out, "w") as f:
    for i in range(1, lines + 1):
        ip = "10.%d.%d.%d" % (r() % 8, r() % 256, r() % 256)
        path = "/" + "/".join(parts[r() % len(parts)]
                              for _ in range(1 + r() % 4))
        f.write('%s - u%d [%06d] "%s %s?id=%d HTTP/1.1" %d %d\n' % (
            ip, r() % 5000, i, methods[r() % len(methods)], path,
            r() % 100000, (200, 200, 200, 301, 404, 500)[r() % 6],
            r() % 50000))
