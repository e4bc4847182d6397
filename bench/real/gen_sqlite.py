"""Writes the SQL script of the sqlite3 workload (deterministic).

usage: gen_sqlite.py OUT.sql [users=30000] [orders=300000]

The script is run as `sqlite3 :memory: .read OUT.sql`: an in-memory database
whose every page lives in memory that SQLite allocates with malloc.  It
creates two tables, inserts the users one literal INSERT statement at a time
(so the SQL parser and the statement machinery allocate for each row) and
the orders in bulk from a recursive CTE, builds indexes, then runs joins,
aggregates, sorts, LIKE scans, an UPDATE that grows rows, a DELETE and a
VACUUM.
"""
import random
import sys


def main():
    out = sys.argv[1]
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
    orders = int(sys.argv[3]) if len(sys.argv) > 3 else 300000
    rng = random.Random(7)
    cities = ["Lyon", "Oslo", "Lima", "Pune", "Kyiv", "Cork", "Graz", "Nara",
              "Bonn", "Fez", "Hue", "Ulm", "Bern", "Riga", "Cusco", "Perth"]
    lines = [
        "PRAGMA cache_size = -262144;",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, email TEXT,"
        " age INT, city TEXT, score REAL);",
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INT, item TEXT,"
        " qty INT, price REAL, note TEXT);",
        "BEGIN;",
    ]
    for i in range(1, users + 1):
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                       for _ in range(rng.randrange(4, 14)))
        lines.append(
            "INSERT INTO users VALUES(%d,'%s','%s@example.org',%d,'%s',%.4f);"
            % (i, name, name, rng.randrange(18, 90), rng.choice(cities),
               rng.random() * 100))
    lines += [
        "COMMIT;",
        "BEGIN;",
        # deterministic pseudo-random columns (SQLite's random() is seeded
        # from the OS, which would change the work from run to run)
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
        " LIMIT %d)" % orders,
        " INSERT INTO orders SELECT x, 1 + (x * 2654435761) %% %d,"
        " 'item-' || ((x * 40503 + 7) %% 5000), 1 + (x * 69069) %% 9,"
        " ((x * 1103515245 + 12345) %% 100000) / 100.0,"
        " substr(hex(x * 2654435761) || hex(x * 1103515245), 1,"
        " 10 + (x * 48271) %% 20) FROM n;" % users,
        "COMMIT;",
        "CREATE INDEX orders_user ON orders(user_id);",
        "CREATE INDEX orders_item ON orders(item, qty);",
        "CREATE INDEX users_city ON users(city, age);",
        "SELECT city, count(*), avg(score) FROM users GROUP BY city ORDER BY 3 DESC LIMIT 3;",
        "SELECT u.city, sum(o.qty * o.price) AS total FROM users u"
        " JOIN orders o ON o.user_id = u.id GROUP BY u.city ORDER BY total DESC LIMIT 3;",
        "SELECT item, count(*) FROM orders GROUP BY item ORDER BY 2 DESC, 1 LIMIT 3;",
        "SELECT count(*) FROM orders WHERE note LIKE '%A0%';",
        "SELECT name FROM users ORDER BY score DESC, name LIMIT 3;",
        "SELECT count(DISTINCT user_id) FROM orders WHERE qty > 5;",
        "UPDATE orders SET note = note || note WHERE qty % 3 = 0;",
        "DELETE FROM orders WHERE qty = 1;",
        "SELECT count(*), sum(length(note)) FROM orders;",
        "CREATE TABLE summary AS SELECT user_id, count(*) AS n, group_concat(item) AS items"
        " FROM orders GROUP BY user_id;",
        "SELECT max(length(items)) FROM summary;",
        "VACUUM;",
        "SELECT 'sqlite: rows=' || count(*) FROM orders;",
    ]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
