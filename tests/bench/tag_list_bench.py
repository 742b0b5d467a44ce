#!/usr/bin/env python3
"""`list --tag` at 100,000 cases (docs/benchmarks.md, "Tags at scale"): a
schema made by casectl, 100,000 synthetic cases (30% open), a tag on 20% of
them ("web"), one on a third ("crash"), one on 50 ("rare"); then the
statement list runs, timed with the tag finding the cases (SQLite's own
choice) and with the cases read in order and the tag looked up (+id),
alternated, RUNS times each. Not part of ctest.
    tests/bench/tag_list_bench.py CASECTL [RUNS]"""

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

casectl = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
work = tempfile.mkdtemp(prefix="cased-tags-")
db_path = os.path.join(work, "cases.db")
config = os.path.join(work, "cased.toml")
with open(config, "w") as f:
    f.write(f'[case]\ndatabase = "{db_path}"\nalias = "security@example.com"\n')
subprocess.run([casectl, "init"], env=dict(os.environ, CASED_CONFIG=config), check=True, capture_output=True)
db = sqlite3.connect(db_path)
numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
db.execute(numbers + "INSERT INTO cases(id, subject, status, created, updated) SELECT i, 'case ' || i, "
           "CASE i % 10 WHEN 0 THEN 'new' WHEN 1 THEN 'open' WHEN 2 THEN 'waiting' ELSE 'resolved' END, "
           "1600000000 + i * 900, 1600000000 + i * 900 + (i * 7919) % 86400 FROM n")
for tag, every in (("web", 5), ("crash", 3), ("rare", 2000)):
    db.execute(numbers + f"INSERT INTO tags(case_id, tag) SELECT i, '{tag}' FROM n WHERE i % {every} = 0")
db.commit()


def statement(tags, looked_up, states):
    sql = "SELECT id FROM cases WHERE merged_into IS NULL"
    if states:
        sql += " AND status IN ('new', 'open', 'waiting')"
    for tag in tags:
        sql += f" AND {'+' if tag in looked_up else ''}id IN (SELECT case_id FROM tags WHERE tag = '{tag}')"
    return sql + " ORDER BY updated DESC, id DESC LIMIT 50"


rows = [("list --tag web --limit 50", ["web"], True),
        ("list --all --tag web --limit 50", ["web"], False),
        ("list --tag web --tag crash --limit 50", ["web", "crash"], True),
        ("list --tag rare --limit 50", ["rare"], True)]
for name, tags, states in rows:
    times = {"tag finds": [], "+id looked up": []}
    for _ in range(runs):
        for label, looked_up in (("tag finds", []), ("+id looked up", tags)):
            sql = statement(tags, looked_up, states)
            start = time.perf_counter()
            db.execute(sql).fetchall()
            times[label].append((time.perf_counter() - start) * 1000)
    print(f"| `{name}` | " + " | ".join(
        f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})" for v in times.values()) + " |")
subprocess.run(["rm", "-rf", work])
