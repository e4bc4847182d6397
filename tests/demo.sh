#!/usr/bin/env bash
# The demo: sqlite3 builds, indexes and queries a 200k-row table under
# pcmalloc, then pcmalloc prints its statistics (PCMALLOC_CONF=stats:1).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$PWD/${BUILD:-build}/libpcmalloc.so
db=$(mktemp -d)/demo.db
trap 'rm -rf "$(dirname "$db")"' EXIT
echo "== sqlite3 under LD_PRELOAD=$lib"
LD_PRELOAD=$lib PCMALLOC_CONF=stats:1 sqlite3 "$db" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, 'name-' || (i * 7919 % 200000), i % 97,
       substr(hex(randomblob(64)), 1, 20 + i % 100) FROM n;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp);
SELECT 'rows', count(*) FROM t;
SELECT 'groups', count(DISTINCT grp), max(length(payload)) FROM t;
SELECT 'lookup', id FROM t WHERE name = 'name-4242';
SELECT 'top group', grp, count(*) AS c FROM t GROUP BY grp ORDER BY c DESC, grp LIMIT 1;
SQL
