#!/usr/bin/env bash
# Black-box test: sqlite3 CLI inserting 100k generated rows in a transaction,
# building indexes, running aggregates, joins, ORDER BY, LIKE, window and JSON
# queries, updates, deletes and VACUUM, with a 64 MB page cache.  Compares the
# printed results and the database file itself.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init sqlite
bb_need /usr/bin/sqlite3

cat >"$BB_TMP/input/script.sql" <<'SQL'
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;
.headers on
.mode list
.separator |

CREATE TABLE grp(id INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE items(
  id INTEGER PRIMARY KEY,
  grp INTEGER NOT NULL REFERENCES grp(id),
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  score REAL NOT NULL
);
CREATE TABLE tags(item_id INTEGER NOT NULL, tag TEXT NOT NULL);

BEGIN;
WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < 96)
INSERT INTO grp(id, label)
  SELECT x, 'group-' || char(65 + x % 26) || printf('%03d', (x * 37) % 101) FROM g;

-- r is a 31-bit LCG sequence: deterministic "random" payloads.
WITH RECURSIVE seq(x, r) AS (
  SELECT 1, 12345
  UNION ALL
  SELECT x + 1, (r * 1103515245 + 12345) % 2147483648 FROM seq WHERE x < 100000
)
INSERT INTO items(id, grp, name, payload, score)
  SELECT x,
         r % 97,
         'name_' || printf('%08x', r) || substr('abcdefghijklmnopqrstuvwxyz', 1 + r % 26, 1 + r % 13),
         printf('%d:%s:', x, hex(r * r)) ||
           replace(hex(zeroblob(1 + r % 150)), '0', char(97 + (r / 7) % 26)) ||
           substr('the quick brown fox jumps over the lazy dog', 1 + r % 40),
         (r % 1000003) / 7.0
  FROM seq;

INSERT INTO tags(item_id, tag)
  SELECT id, 'tag' || (id * 7919 % 503) FROM items WHERE id % 2 = 0
  UNION ALL
  SELECT id, 'tag' || (id * 104729 % 211) FROM items WHERE id % 3 = 0;
COMMIT;

CREATE INDEX items_grp_score ON items(grp, score);
CREATE INDEX items_name ON items(name);
CREATE INDEX tags_tag ON tags(tag, item_id);

SELECT 'q1' AS q, count(*), sum(length(payload)), total(score), min(name), max(name) FROM items;
SELECT 'q2' AS q, count(*), count(DISTINCT tag), count(DISTINCT item_id) FROM tags;
SELECT 'q3' AS q, grp, count(*) AS n, printf('%.4f', avg(score)) AS avg_score, max(length(payload))
  FROM items GROUP BY grp ORDER BY n DESC, grp LIMIT 15;
SELECT 'q4' AS q, g.label, count(*) AS n, sum(length(i.payload)) AS bytes
  FROM items i JOIN grp g ON g.id = i.grp
  GROUP BY g.label ORDER BY bytes DESC, g.label LIMIT 15;
SELECT 'q5' AS q, t.tag, count(*) AS n, sum(i.score) AS s
  FROM tags t JOIN items i ON i.id = t.item_id JOIN grp g ON g.id = i.grp
  WHERE g.label LIKE 'group-A%' OR g.label LIKE '%7'
  GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT 20;
SELECT 'q6' AS q, id, name, score FROM items ORDER BY score DESC, id LIMIT 25;
-- No index on payload: a full sort in the sorter.
SELECT 'q7' AS q, id, substr(payload, 1, 40) FROM items ORDER BY payload, id LIMIT 10 OFFSET 50000;
SELECT 'q8' AS q, count(*) FROM items WHERE name LIKE 'name_1%';
SELECT 'q9' AS q, count(*), sum(id) FROM items WHERE payload LIKE '%fox%' AND payload NOT LIKE '%quick%';
SELECT 'q10' AS q, grp, id, rk FROM (
  SELECT grp, id, rank() OVER (PARTITION BY grp ORDER BY score DESC, id) AS rk FROM items
) WHERE rk <= 2 ORDER BY grp, rk LIMIT 40;
SELECT 'q11' AS q, grp, substr(json_group_array(json_object('id', id, 'n', name)), 1, 120)
  FROM (SELECT * FROM items WHERE id % 1000 = 7 ORDER BY id) GROUP BY grp ORDER BY grp LIMIT 10;
SELECT 'q12' AS q, length(group_concat(name, ',')) FROM (SELECT name FROM items ORDER BY name);
SELECT 'q13' AS q, i.id, count(t.tag) FROM items i LEFT JOIN tags t ON t.item_id = i.id
  WHERE i.id BETWEEN 500 AND 520 GROUP BY i.id ORDER BY i.id;

BEGIN;
UPDATE items SET payload = upper(payload) || '/' || name, score = score * 2 WHERE id % 5 = 0;
DELETE FROM items WHERE id % 7 = 3;
DELETE FROM tags WHERE item_id NOT IN (SELECT id FROM items);
COMMIT;
VACUUM;
PRAGMA integrity_check;
SELECT 'q14' AS q, count(*), sum(length(payload)), total(score) FROM items;
SELECT 'q15' AS q, count(*) FROM tags;
SELECT 'q16' AS q, id, payload FROM items WHERE payload GLOB '*[0-9]:*/name_0*' ORDER BY id LIMIT 5;
.sha3sum
SELECT 'end' AS q;
SQL

bb_run_both /usr/bin/sqlite3 -batch -bail test.db '.read script.sql'
bb_compare
bb_compare_files test.db
bb_expect_re '^q1\|100000\|' 
bb_expect_line 'integrity_check'
bb_expect_line 'ok'
bb_expect_line 'end'
bb_pass
