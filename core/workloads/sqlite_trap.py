"""Pattern 11 - the sqlite3 trap: `with sqlite3.connect(...)` does not close the connection.

A `sqlite3.Connection` used as a context manager commits (or rolls back) the transaction on
exit and leaves the connection open. Code that opens one per call that way never closes any:
each connection lives until its last reference goes and CPython's collector closes it. The
correct variant wraps it in `contextlib.closing` (for the close) around `with conn:` (for the
transaction).

This pattern is about sqlite3 itself, so it always uses a SQLite file, whatever the
database configuration. (From Python 3.13, sqlite3 also warns with ResourceWarning when it
has to close a connection at collection.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from withscope.core.context import WorkloadContext
from withscope.core.track import track

from .base import Workload

PATTERN = "sqlite-trap"
PATTERN_TITLE = "The sqlite3 trap"
DB_FILE = "events.sqlite3"


def save_event_closing(path: Path, n: int) -> None:
    with closing(track(sqlite3.connect(path))) as conn, conn:  # closing: close; `with conn`: commit
        conn.execute("INSERT INTO events (n, what) VALUES (?, ?)", (n, f"event {n}"))


def save_event_with_only(path: Path, n: int) -> None:
    with track(sqlite3.connect(path)) as conn:  # BUG: commits, but never closes the connection
        conn.execute("INSERT INTO events (n, what) VALUES (?, ?)", (n, f"event {n}"))


def _run(ctx: WorkloadContext, save: Callable[[Path, int], None]) -> None:
    path = ctx.tmpdir / DB_FILE
    with closing(sqlite3.connect(path)) as setup, setup:
        setup.execute("CREATE TABLE events (n INTEGER, what TEXT)")
    try:
        for n in range(ctx.count(10, minimum=3)):
            if ctx.stop.is_set():
                return
            save(path, n)
            ctx.stop.wait(ctx.seconds(0.03))
    finally:
        path.unlink(missing_ok=True)


def correct(ctx: WorkloadContext) -> None:
    _run(ctx, save_event_closing)


def faulty(ctx: WorkloadContext) -> None:
    _run(ctx, save_event_with_only)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="`closing(sqlite3.connect(...))` around `with conn:`",
        narration=(
            "Each event is saved on its own sqlite3 connection: `contextlib.closing` closes it and the inner "
            "`with conn:` commits the transaction. Two context managers, because a sqlite3 connection's own "
            "`with` only ends the transaction. Look for one db.connection bar per event, each closed by the "
            "code."
        ),
        expected_rules=frozenset(),
        func=correct,
        blocking=True,
    ),
    Workload(
        name=f"{PATTERN}/faulty",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="faulty",
        title="`with sqlite3.connect(...)`: the transaction ends, the connection does not",
        narration=(
            "Each event is saved inside `with sqlite3.connect(...) as conn:`, which looks complete but only "
            "commits: the connection stays open after the block. Here each one is closed only when its last "
            "reference disappears and the garbage collector reclaims it. Look for the `gc-release` alerts, one "
            "per event, pointing at the `with` line."
        ),
        expected_rules=frozenset({"gc-release"}),
        func=faulty,
        blocking=True,
    ),
)
