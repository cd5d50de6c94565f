# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# The sqlite3 connection closed by contextlib.closing; the inner `with` commits.
import contextlib
import sqlite3

with contextlib.closing(sqlite3.connect(":memory:")) as conn:
    with conn:
        conn.execute("create table t (x)")
        conn.execute("insert into t values (1)")
    print("rows", conn.execute("select count(*) from t").fetchone()[0])
