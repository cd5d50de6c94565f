"""Pattern 1 - a class-based context manager: a database connection.

`DatabaseConnection.__enter__` connects and `__exit__` always closes, so a request that fails
still gives its connection back. The faulty variant manages the same class by hand and puts
`close()` after the work: the first exception skips it.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

from withscope.core.context import WorkloadContext

from . import db
from .base import Workload

PATTERN = "class-cm"
PATTERN_TITLE = "Class-based context manager"


class UnknownAccount(LookupError):
    """The request named an account that does not exist."""


class DatabaseConnection:
    """A database connection usable with `with` (preferred) or by hand (`connect()` ... `close()`).

    `__exit__` closes whatever happened in the block and never suppresses the exception.
    Not reusable while connected; `close()` is idempotent. One thread at a time.
    """

    def __init__(self, ctx: WorkloadContext) -> None:
        self._ctx = ctx
        self._conn: db.SyncConnection | None = None

    def connect(self) -> None:
        if self._conn is not None:
            raise RuntimeError("already connected")
        self._conn = db.connect_sync(self._ctx)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def fetchval(self, sql: str, *args: Any) -> Any:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn.fetchval(sql, *args)

    def __enter__(self) -> DatabaseConnection:
        self.connect()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _balance(conn: DatabaseConnection, table: str, account: int) -> int:
    value = conn.fetchval(f"SELECT balance FROM {table} WHERE id = $1", account)
    if value is None:
        raise UnknownAccount(f"no account {account}")
    return int(value)


def _requests(ctx: WorkloadContext) -> list[int]:
    # Every fourth request asks for an account that does not exist (ids 1..3 do).
    return [i % 4 for i in range(ctx.count(12, minimum=4))]


def _run(ctx: WorkloadContext, handle: Any) -> None:
    rows = [(1, 100), (2, 250), (3, 40)]
    columns = "id INTEGER PRIMARY KEY, balance INTEGER"
    with db.scratch_table_sync(ctx, db.table_name("accounts"), columns, rows) as table:
        for account in _requests(ctx):
            if ctx.stop.is_set():
                return
            # A failed request is answered with an error; the service carries on.
            with contextlib.suppress(UnknownAccount):
                handle(ctx, table, account)
            ctx.stop.wait(ctx.seconds(0.02))


def _request_with(ctx: WorkloadContext, table: str, account: int) -> None:
    with DatabaseConnection(ctx) as conn:
        _balance(conn, table, account)


def _request_by_hand(ctx: WorkloadContext, table: str, account: int) -> None:
    conn = DatabaseConnection(ctx)
    conn.connect()
    _balance(conn, table, account)
    conn.close()  # BUG: never reached when _balance raises


def correct(ctx: WorkloadContext) -> None:
    _run(ctx, _request_with)


def faulty(ctx: WorkloadContext) -> None:
    _run(ctx, _request_by_hand)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="Each request opens its connection with `with DatabaseConnection(...)`",
        narration=(
            "A service answers balance requests, each on its own connection opened by "
            "`with DatabaseConnection(...)`. Every fourth request names an unknown account and fails, "
            "yet `__exit__` closes its connection too. Look for one short db.connection bar per request, "
            "all released, the failed ones included."
        ),
        expected_rules=frozenset(),
        func=correct,
        blocking=True,
        uses_db=True,
    ),
    Workload(
        name=f"{PATTERN}/faulty",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="faulty",
        title="Manual connect() / close() with the close skipped when the request fails",
        narration=(
            "The same service calls `connect()` and `close()` by hand, with `close()` after the query. "
            "When a request fails, the exception jumps over `close()`, so every failed request leaves "
            "its connection open. Look for the db.connection bars that never end and the `unreleased` "
            "alerts pointing at `connect()`; on PostgreSQL the server backends stay too."
        ),
        expected_rules=frozenset({"unreleased"}),
        postgres_rules=frozenset({"db-backend-leak"}),
        func=faulty,
        blocking=True,
        uses_db=True,
    ),
)
