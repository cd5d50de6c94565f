"""Database access for the sample workloads: SQLite in the run's temp directory, or PostgreSQL.

`DatabaseConfig.dsn` None means a SQLite file in `WorkloadContext.tmpdir` (sqlite3, called in
the current thread: local and fast enough for a demo); a `postgresql://` DSN means asyncpg for
async workloads and psycopg for blocking ones, every connection carrying
`application_name = ctx.db.application_name` so the `db-backend-leak` rule can find it.

SQL is written once with `$1`-style placeholders and translated for SQLite. Connections are in
autocommit mode: transactions are explicit (`AsyncConnection.begin()`), so a leaked idle
connection holds no locks that would block the workload's own cleanup.

Tracking: `connect_async()` / `connect_sync()` return *tracked handles* (kind `db.connection`)
and register them in `ctx.leftovers` until they are closed, so a connection a faulty workload
forgets stays open (rule `unreleased`) until the runner's cleanup. This file is listed in
`track.SKIP_FILES`: the acquisition site recorded is the workload line that called it.

`scratch_table_*` (and `setup_*`/`teardown_*`) run the scaffolding (tables) on untracked
connections; a scratch table is dropped even when its set-up is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

from withscope.core.context import DatabaseConfig, Leftovers, WorkloadContext
from withscope.core.redact import redact_dsn
from withscope.core.track import SKIP_FILES, track

SKIP_FILES.add(__file__)

SQLITE_FILE = "withscope-workloads.sqlite3"
CONNECT_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0
_PLACEHOLDER = re.compile(r"\$\d+")

Row = tuple[Any, ...]


def qmark(sql: str) -> str:
    """`$1`-style placeholders to sqlite3's `?` (arguments must appear in order)."""
    return _PLACEHOLDER.sub("?", sql)


def table_name(base: str) -> str:
    """A table name unique to this run (runs may share a PostgreSQL database)."""
    return f"withscope_{base}_{uuid.uuid4().hex[:8]}"


def label_of(ctx: WorkloadContext) -> str:
    """What a connection to `ctx.db` is called in lifetimes: `sqlite:<path>` or the redacted DSN."""
    if ctx.db.is_postgres:
        assert ctx.db.dsn is not None
        return redact_dsn(ctx.db.dsn)
    return f"sqlite:{ctx.tmpdir / SQLITE_FILE}"


def _sqlite(ctx: WorkloadContext) -> sqlite3.Connection:
    # Autocommit (isolation_level=None); usable from the runner's thread at cleanup.
    return sqlite3.connect(
        ctx.tmpdir / SQLITE_FILE, timeout=CONNECT_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )


def _dsn(db: DatabaseConfig) -> str:
    if not db.is_postgres or db.dsn is None:
        raise ValueError(f"not a PostgreSQL DSN: {redact_dsn(db.dsn)!r}" if db.dsn else "no PostgreSQL DSN")
    return db.dsn


async def _asyncpg_connect(db: DatabaseConfig, suffix: str = "") -> Any:
    import asyncpg

    return await asyncpg.connect(
        _dsn(db), timeout=CONNECT_TIMEOUT_S, server_settings={"application_name": db.application_name + suffix}
    )


def _psycopg_connect(db: DatabaseConfig, suffix: str = "") -> Any:
    import psycopg

    return psycopg.connect(
        _dsn(db),
        autocommit=True,
        application_name=db.application_name + suffix,
        connect_timeout=int(CONNECT_TIMEOUT_S),
    )


# Scaffolding connections are named apart, so db-backend-leak never mistakes one still closing for a leak.
SCAFFOLD_SUFFIX = "-scaffold"


class _Marker:
    """A lifetime with nothing to free: `close()` only marks its end (the transaction's)."""

    def close(self) -> None:
        pass


class Transaction:
    """BEGIN ... COMMIT or ROLLBACK on one `AsyncConnection` (from `AsyncConnection.begin()`).

    Recorded as a lifetime of kind `db.transaction` that `commit()` or `rollback()` ends. One
    never ended stays open (and held in `ctx.leftovers`): the faulty transaction helper's
    footprint. Not reusable; call `commit()` or `rollback()` once.
    """

    def __init__(self, conn: AsyncConnection, leftovers: Leftovers) -> None:
        self._conn = conn
        self._leftovers = leftovers
        self._life = track(_Marker(), kind="db.transaction", label=f"transaction on {conn.label}")
        self._token = leftovers.keep(self._life, self._life.close)
        self.ended = False

    async def commit(self) -> None:
        await self._conn.execute("COMMIT")
        self._end()

    async def rollback(self) -> None:
        await self._conn.execute("ROLLBACK")
        self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self._leftovers.discard(self._token)
            self._life.close()


class AsyncConnection:
    """One connection for async workloads: asyncpg on PostgreSQL, sqlite3 in the loop thread otherwise.

    Use it with `async with` or close it with `aclose()`. Not shared between tasks.
    """

    def __init__(self, raw: Any, label: str, postgres: bool, leftovers: Leftovers) -> None:
        self._raw = raw
        self.label = label
        self.postgres = postgres
        self._leftovers = leftovers
        self._token = 0
        self.closed = False

    async def execute(self, sql: str, *args: Any) -> None:
        if self.postgres:
            await self._raw.execute(sql, *args)
        else:
            self._raw.execute(qmark(sql), args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.postgres:
            await self._raw.executemany(sql, list(rows))
        else:
            self._raw.executemany(qmark(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        if self.postgres:
            return [tuple(r) for r in await self._raw.fetch(sql, *args)]
        return list(self._raw.execute(qmark(sql), args).fetchall())

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    async def begin(self) -> Transaction:
        """BEGIN a transaction; end it with `commit()` or `rollback()` on the result."""
        await self.execute("BEGIN")
        return Transaction(self, self._leftovers)

    @property
    def in_transaction(self) -> bool:
        return bool(self._raw.is_in_transaction() if self.postgres else self._raw.in_transaction)

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL server process of this connection (None on SQLite)."""
        return int(self._raw.get_server_pid()) if self.postgres else None

    async def aclose(self) -> None:
        """Close the connection (idempotent). Never hangs: terminates after `CLOSE_TIMEOUT_S`."""
        if self.closed:
            return
        self.closed = True
        self._leftovers.discard(self._token)
        if not self.postgres:
            self._raw.close()
            return
        try:
            await self._raw.close(timeout=CLOSE_TIMEOUT_S)
        except Exception:
            self._raw.terminate()
            raise

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class SyncConnection:
    """One connection for blocking workloads: psycopg on PostgreSQL, sqlite3 otherwise.

    Use it with `with` or close it with `close()`. Used by one thread at a time.
    """

    def __init__(self, raw: Any, label: str, postgres: bool, leftovers: Leftovers) -> None:
        self._raw = raw
        self.label = label
        self.postgres = postgres
        self._leftovers = leftovers
        self._token = 0
        self.closed = False

    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql) if self.postgres else qmark(sql)

    def execute(self, sql: str, *args: Any) -> None:
        self._raw.execute(self._sql(sql), args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.postgres:
            with self._raw.cursor() as cur:
                cur.executemany(self._sql(sql), list(rows))
        else:
            self._raw.executemany(qmark(sql), rows)

    def fetch(self, sql: str, *args: Any) -> list[Row]:
        if self.postgres:
            with self._raw.cursor() as cur:
                cur.execute(self._sql(sql), args)
                return [tuple(r) for r in cur.fetchall()]
        return list(self._raw.execute(qmark(sql), args).fetchall())

    def fetchval(self, sql: str, *args: Any) -> Any:
        rows = self.fetch(sql, *args)
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._leftovers.discard(self._token)
        self._raw.close()

    def __enter__(self) -> SyncConnection:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


async def connect_async(ctx: WorkloadContext) -> AsyncConnection:
    """Open a tracked connection (kind `db.connection`) held in `ctx.leftovers` until closed.

    The return value is the tracked handle: it behaves as an `AsyncConnection`, and its
    `aclose()` / `async with` exit record the release.
    """
    postgres = ctx.db.is_postgres
    raw = await _asyncpg_connect(ctx.db) if postgres else _sqlite(ctx)
    conn = AsyncConnection(raw, label_of(ctx), postgres, ctx.leftovers)
    handle: AsyncConnection = track(conn, kind="db.connection", label=conn.label)
    conn._token = ctx.leftovers.keep(handle, handle.aclose)
    return handle


def connect_sync(ctx: WorkloadContext) -> SyncConnection:
    """Open a tracked connection for blocking code (see `connect_async`); `close()` or `with` releases it."""
    postgres = ctx.db.is_postgres
    raw = _psycopg_connect(ctx.db) if postgres else _sqlite(ctx)
    conn = SyncConnection(raw, label_of(ctx), postgres, ctx.leftovers)
    handle: SyncConnection = track(conn, kind="db.connection", label=conn.label)
    conn._token = ctx.leftovers.keep(handle, handle.close)
    return handle


# ----------------------------------------------------------------------------- scaffolding
async def _raw_async(ctx: WorkloadContext) -> AsyncConnection:
    postgres = ctx.db.is_postgres
    raw = await _asyncpg_connect(ctx.db, SCAFFOLD_SUFFIX) if postgres else _sqlite(ctx)
    return AsyncConnection(raw, label_of(ctx), postgres, Leftovers())


def _raw_sync(ctx: WorkloadContext) -> SyncConnection:
    postgres = ctx.db.is_postgres
    raw = _psycopg_connect(ctx.db, SCAFFOLD_SUFFIX) if postgres else _sqlite(ctx)
    return SyncConnection(raw, label_of(ctx), postgres, Leftovers())


def _create_sql(table: str, columns: str) -> str:
    return f"CREATE TABLE {table} ({columns})"


async def setup_async(ctx: WorkloadContext, table: str, columns: str, rows: Iterable[Sequence[Any]] = ()) -> None:
    """Create `table` (untracked scaffolding) and insert `rows` into it."""
    rows = list(rows)
    async with await _raw_async(ctx) as conn:
        await conn.execute(_create_sql(table, columns))
        if rows:
            marks = ", ".join(f"${i + 1}" for i in range(len(rows[0])))
            await conn.execute("BEGIN")  # one commit (one fsync on SQLite) for all the rows
            await conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            await conn.execute("COMMIT")


async def teardown_async(ctx: WorkloadContext, *tables: str) -> None:
    """Drop `tables` if they exist (untracked scaffolding)."""
    async with await _raw_async(ctx) as conn:
        for table in tables:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")


@contextlib.asynccontextmanager
async def scratch_table_async(
    ctx: WorkloadContext, table: str, columns: str, rows: Iterable[Sequence[Any]] = ()
) -> AsyncIterator[str]:
    """Create `table` with `rows` for the block, and drop it afterwards - also when the set-up
    itself fails or is cancelled half-way. The DROP runs to its end even if the task is
    cancelled (again) meanwhile - a driver may deliver a cancel late - and the cancel is then
    re-raised."""
    try:
        await setup_async(ctx, table, columns, rows)
        yield table
    finally:
        drop = asyncio.ensure_future(teardown_async(ctx, table))
        try:
            await asyncio.shield(drop)
        except asyncio.CancelledError:
            await asyncio.wait([drop])  # bounded by the connect timeout
            raise


@contextlib.contextmanager
def scratch_table_sync(
    ctx: WorkloadContext, table: str, columns: str, rows: Iterable[Sequence[Any]] = ()
) -> Iterator[str]:
    """Blocking `scratch_table_async`."""
    try:
        setup_sync(ctx, table, columns, rows)
        yield table
    finally:
        teardown_sync(ctx, table)


def setup_sync(ctx: WorkloadContext, table: str, columns: str, rows: Iterable[Sequence[Any]] = ()) -> None:
    """Blocking `setup_async`."""
    rows = list(rows)
    with _raw_sync(ctx) as conn:
        conn.execute(_create_sql(table, columns))
        if rows:
            marks = ", ".join(f"${i + 1}" for i in range(len(rows[0])))
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            conn.execute("COMMIT")


def teardown_sync(ctx: WorkloadContext, *tables: str) -> None:
    """Blocking `teardown_async`."""
    with _raw_sync(ctx) as conn:
        for table in tables:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


async def backend_state(ctx: WorkloadContext, pid: int) -> str | None:
    """pg_stat_activity's `state` of backend `pid` (e.g. "idle in transaction"), None if gone or not PostgreSQL."""
    if not ctx.db.is_postgres:
        return None
    async with await _raw_async(ctx) as conn:
        state = await conn.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    return None if state is None else str(state)
