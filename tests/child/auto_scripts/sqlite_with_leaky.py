# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# The sqlite3 `with` trap: the block commits, it does not close the connection.
import sqlite3
import sys

with sqlite3.connect(sys.argv[1] if len(sys.argv) > 1 else ":memory:") as conn:  # LEAK
    conn.execute("create table t (x)")
    conn.execute("insert into t values (1)")
print("rows", conn.execute("select count(*) from t").fetchone()[0])
