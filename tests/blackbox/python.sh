#!/usr/bin/env bash
# Black-box test: CPython building and discarding millions of small objects
# (dicts, strings, tuples, lists) in several threads, objects handed between
# threads through a queue, plus big lists, bytes and bytearrays.
# PYTHONMALLOC=malloc routes every Python allocation through malloc.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init python
bb_need /usr/bin/python3

cat >"$BB_TMP/input/work.py" <<'PY'
import gc
import hashlib
import queue
import sys
import threading
import zlib

MASK = (1 << 64) - 1


class Rng:
    """64-bit LCG: deterministic, independent of Python's hash seed."""

    def __init__(self, seed):
        self.x = seed & MASK

    def next(self):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) & MASK
        return self.x >> 33


def churn(tid, rounds, out):
    """Builds and discards many small dicts/strings/tuples/lists."""
    rng = Rng(tid + 1)
    h = hashlib.sha256()
    total = 0
    keep = []
    for r in range(rounds):
        d = {}
        for i in range(400):
            v = rng.next()
            k = "k%d_%x" % (i, v & 0xFFF)
            d[k] = {
                "v": v,
                "s": str(v) * (1 + v % 5),
                "t": (i, r, tid, k),
                "l": [v % 7, v % 11, str(v % 13)],
            }
        names = sorted(d)
        h.update("|".join(names).encode())
        total += sum(x["v"] % 1000 for x in d.values())
        # Drop every other key, mutate the rest (frees + reallocs).
        for k in names[::2]:
            del d[k]
        for k in names[1::2]:
            d[k]["s"] += "-%d" % r
            d[k]["l"].extend(range(r % 9))
        total += sum(len(x["s"]) + len(x["l"]) for x in d.values())
        # Keep a few objects alive across rounds, release old ones.
        keep.append(d)
        if len(keep) > 8:
            keep.pop(0)
        # Reference cycles for the cyclic GC.
        a = {"name": "a%d" % r}
        b = {"name": "b%d" % r, "peer": a}
        a["peer"] = b
        del a, b
    out[tid] = (total, h.hexdigest())


def producer(q, n, seed):
    rng = Rng(seed)
    for i in range(n):
        v = rng.next()
        q.put({"id": i, "seed": seed, "payload": ("%08x" % v) * (1 + v % 16),
               "items": [v % 3, v % 5, v % 7]})
    q.put(None)


def consumer(q, results, lock):
    # Objects allocated by a producer thread are freed here.
    acc = 0
    cnt = 0
    while True:
        item = q.get()
        if item is None:
            break
        acc = (acc + zlib.crc32(item["payload"].encode()) + sum(item["items"]) + item["id"]) & MASK
        cnt += 1
    with lock:
        results.append((acc, cnt))


def big_objects():
    res = []
    lst = list(range(3_000_000))
    res.append(("list_sum", sum(lst)))
    lst2 = [x * 2 for x in lst if x % 3]
    res.append(("list2_len", len(lst2), sum(lst2[::1000])))
    del lst, lst2
    strs = [str(i) for i in range(500_000)]
    joined = ",".join(strs)
    res.append(("joined", len(joined), hashlib.sha256(joined.encode()).hexdigest()))
    del strs
    b = bytes(range(256)) * 200_000  # ~51 MB
    res.append(("bytes", len(b), zlib.crc32(b)))
    ba = bytearray()
    for i in range(20_000):  # grows by realloc
        ba += b[i * 7 % 1000:(i * 7 % 1000) + 1000 + i % 500]
    res.append(("bytearray", len(ba), hashlib.md5(ba).hexdigest()))
    c = zlib.compress(bytes(ba), 6)
    res.append(("zlib", len(c), zlib.crc32(zlib.decompress(c))))
    del b, ba, c
    s = ""
    for i in range(200_000):  # str += grows in place (realloc)
        s += "%x;" % i
    res.append(("str_grow", len(s), hashlib.sha1(s.encode()).hexdigest()))
    words = sorted(s.split(";"), key=lambda w: (len(w), w[::-1]))
    res.append(("sorted", len(words), words[1], words[len(words) // 2], words[-1]))
    return res


def main():
    out = {}
    threads = [threading.Thread(target=churn, args=(t, 200, out)) for t in range(4)]
    for t in threads:
        t.start()
    churn(99, 200, out)  # the main thread does the same meanwhile
    for t in threads:
        t.join()
    for tid in sorted(out):
        print("churn", tid, *out[tid])

    q = queue.Queue(maxsize=256)
    results = []
    lock = threading.Lock()
    prods = [threading.Thread(target=producer, args=(q, 40_000, s)) for s in (11, 22)]
    cons = [threading.Thread(target=consumer, args=(q, results, lock)) for _ in range(2)]
    for t in prods + cons:
        t.start()
    for t in prods + cons:
        t.join()
    # Which consumer got which item is timing-dependent: print only totals.
    print("queue", sum(r[1] for r in results), sum(r[0] for r in results) & MASK)

    for r in big_objects():
        print(*r)
    print("gc_garbage", len(gc.garbage))
    print("done")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
PY

BB_ENV=(PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1)
bb_run_both /usr/bin/python3 -s work.py
bb_compare
bb_expect_line 'done'
bb_expect_line "queue 80000 $(
	# Independent check of the queue total, computed by this script.
	/usr/bin/env -i PYTHONHASHSEED=0 /usr/bin/python3 -s - <<'PY'
import zlib
M = (1 << 64) - 1
acc = 0
for seed in (11, 22):
    x = seed
    for i in range(40000):
        x = (x * 6364136223846793005 + 1442695040888963407) & M
        v = x >> 33
        acc = (acc + zlib.crc32((("%08x" % v) * (1 + v % 16)).encode()) + v % 3 + v % 5 + v % 7 + i) & M
print(acc)
PY
)"
bb_pass
