"""A small asyncio connection pool, the subject of the `async-pool` pattern.

    async with ConnectionPool(ctx, size=2) as pool:      # opens `size` connections
        async with pool.acquire(timeout=0.5) as conn:    # checks one out, always gives it back
            await conn.fetch("SELECT 1")
        conn = await pool.acquire()                      # manual checkout ...
        await pool.release(conn)                         # ... must be given back explicitly

Every checkout is a lifetime of kind `pool.checkout` (held in `ctx.leftovers` until released,
so a forgotten one stays open); the pool itself is a `db.pool` lifetime from `__aenter__` to
`__aexit__`; its connections come from `db.connect_async`. This file is in `track.SKIP_FILES`,
so recorded sites point at the workload's `acquire()` / `async with ConnectionPool(...)` line.

Not thread-safe: use a pool from the tasks of one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from types import TracebackType
from typing import Any

from withscope.core.context import WorkloadContext
from withscope.core.track import SKIP_FILES, track

from . import db

SKIP_FILES.add(__file__)


class PoolExhausted(TimeoutError):
    """`acquire()` waited `timeout` seconds and no connection came back."""


class _Checkout:
    """One connection lent out; `release()` returns it to the pool."""

    def __init__(self, pool: ConnectionPool, conn: db.AsyncConnection) -> None:
        self.pool = pool
        self.conn = conn

    def release(self) -> None:
        self.pool._idle.put_nowait(self.conn)

    def close(self) -> None:
        # What the run's cleanup calls for a checkout never given back: nothing to free here,
        # the connection itself is closed by its own leftover entry.
        pass


class _Acquire:
    """What `pool.acquire()` returns: `await` it for a manual checkout, or use it with `async with`."""

    def __init__(self, pool: ConnectionPool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: db.AsyncConnection | None = None

    def __await__(self) -> Generator[Any, None, db.AsyncConnection]:
        return self._pool._checkout(self._timeout).__await__()

    async def __aenter__(self) -> db.AsyncConnection:
        if self._conn is not None:
            raise RuntimeError("this acquire() is already in use; call pool.acquire() again")
        self._conn = await self._pool._checkout(self._timeout)
        return self._conn

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn)


class ConnectionPool:
    """A fixed-size pool of `db.AsyncConnection`s.

    `async with` opens `size` connections and closes the idle ones on exit. A connection still
    checked out at exit is left alone (someone is using it): it stays open - the leak this
    pattern's faulty variant shows. Not reusable: enter it once.
    """

    def __init__(self, ctx: WorkloadContext, size: int = 2) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self._ctx = ctx
        self.size = size
        self._idle: asyncio.Queue[db.AsyncConnection] = asyncio.Queue()
        self._all: list[db.AsyncConnection] = []
        # id(connection) -> (tracked checkout handle, its leftovers token)
        self._out: dict[int, tuple[Any, int]] = {}
        self._life: Any = None
        self._entered = False

    @property
    def checked_out(self) -> int:
        return len(self._out)

    async def __aenter__(self) -> ConnectionPool:
        if self._entered:
            raise RuntimeError("a ConnectionPool can be entered only once")
        self._entered = True
        try:
            for _ in range(self.size):
                conn = await db.connect_async(self._ctx)
                self._all.append(conn)
                self._idle.put_nowait(conn)
        except BaseException:
            await self._close_idle()
            raise
        self._life = track(_PoolLife(), kind="db.pool", label=f"pool of {self.size} on {db.label_of(self._ctx)}")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._close_idle()
        finally:
            if self._life is not None:
                self._life.close()
                self._life = None

    async def _close_idle(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().aclose()

    def acquire(self, timeout: float | None = None) -> _Acquire:
        """Check a connection out: `async with pool.acquire() as conn:` or `conn = await pool.acquire()`.

        Waits at most `timeout` seconds (None: forever), then raises `PoolExhausted`.
        """
        return _Acquire(self, timeout)

    async def _checkout(self, wait_s: float | None) -> db.AsyncConnection:
        if not self._entered:
            raise RuntimeError("use the pool inside `async with ConnectionPool(...)`")
        try:
            async with asyncio.timeout(wait_s):
                conn = await self._idle.get()
        except TimeoutError:
            raise PoolExhausted(
                f"no connection free after {wait_s:g} s ({self.checked_out} of {self.size} checked out)"
            ) from None
        slot = self._all.index(conn) + 1
        handle = track(_Checkout(self, conn), kind="pool.checkout", label=f"checkout of connection {slot}/{self.size}")
        self._out[id(conn)] = (handle, self._ctx.leftovers.keep(handle, handle.close))
        return conn

    async def release(self, conn: db.AsyncConnection) -> None:
        """Give a checked-out connection back (ends its `pool.checkout` lifetime)."""
        entry = self._out.pop(id(conn), None)
        if entry is None:
            raise ValueError("this connection is not checked out of this pool")
        handle, token = entry
        self._ctx.leftovers.discard(token)
        handle.release()


class _PoolLife:
    """The pool's own lifetime marker (the pool is released by `__aexit__`)."""

    def close(self) -> None:
        pass
