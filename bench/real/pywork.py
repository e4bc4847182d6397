"""The python3 workload of the pcmalloc benchmark suite.

Run by the runner as PYTHONMALLOC=malloc /usr/bin/python3 pywork.py SCALE, so
that every Python object, small ones included, is allocated with malloc (by
default CPython serves objects of 512 bytes or less from its own pymalloc
arenas and the allocator under test would see only the large ones).

The work is a mix of what allocation-heavy Python programs do: building and
dropping dicts of records, string formatting and joining, JSON encoding and
decoding, sorting lists of tuples, sets, and a tree of small objects that is
built and torn down.  It prints its own throughput (rounds per second).
"""
import json
import random
import sys
import time


class Node:
    __slots__ = ("key", "left", "right", "payload")

    def __init__(self, key, payload):
        self.key = key
        self.left = None
        self.right = None
        self.payload = payload


def tree_insert(root, key, payload):
    if root is None:
        return Node(key, payload)
    node = root
    while True:
        if key < node.key:
            if node.left is None:
                node.left = Node(key, payload)
                return root
            node = node.left
        else:
            if node.right is None:
                node.right = Node(key, payload)
                return root
            node = node.right


def tree_sum(root):
    total, stack = 0, [root]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        total += len(node.payload)
        stack.append(node.left)
        stack.append(node.right)
    return total


def one_round(rng, n):
    # records in a dict, some dropped, some updated
    table = {}
    for i in range(n):
        key = "user:%08d" % rng.randrange(10 * n)
        table[key] = {"id": i, "name": "name-%d" % i, "tags": [str(i % 7), str(i % 11)],
                      "score": rng.random()}
    for key in list(table)[::3]:
        del table[key]
    for rec in table.values():
        rec["tags"].append("seen")
    # JSON round trip
    blob = json.dumps(list(table.values()))
    back = json.loads(blob)
    # sort tuples, build sets and joined strings
    rows = sorted((r["score"], r["name"], r["id"]) for r in back)
    names = {r[1] for r in rows[::2]}
    text = ",".join(r[1] for r in rows)
    words = text.split(",")
    # a tree of small objects, built and dropped
    root = None
    for w in words[: n // 2]:
        root = tree_insert(root, rng.random(), w * 2)
    check = tree_sum(root) + len(names) + len(words)
    return check


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    rng = random.Random(42)
    t0 = time.perf_counter()
    check = 0
    for _ in range(scale):
        check += one_round(rng, 40000)
    secs = time.perf_counter() - t0
    print("pywork: rounds=%d check=%d secs=%.3f rounds_per_sec=%.3f"
          % (scale, check, secs, scale / secs))


if __name__ == "__main__":
    main()
