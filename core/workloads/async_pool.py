"""Pattern 2 - an async connection pool (`async with ConnectionPool(...)`, see `pool.py`).

Jobs borrow a connection with `async with pool.acquire()`, which gives it back whatever the
job does. The faulty variant checks out by hand (`conn = await pool.acquire()`) and puts
`release()` after the work: each failing job keeps its connection, the pool runs dry and the
next `acquire()` times out.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

from withscope.core.context import WorkloadContext
from withscope.core.recorder import current_recorder

from . import db
from .base import Workload
from .pool import ConnectionPool, PoolExhausted

PATTERN = "async-pool"
PATTERN_TITLE = "Async connection pool"
POOL_SIZE = 2


class InvalidOrder(ValueError):
    """The job's order failed validation."""


async def _job(conn: db.AsyncConnection, table: str, order: int) -> None:
    qty = await conn.fetchval(f"SELECT qty FROM {table} WHERE id = $1", order)
    if qty is None or int(qty) <= 0:
        raise InvalidOrder(f"order {order} has no quantity")
    await conn.execute(f"UPDATE {table} SET qty = qty - 1 WHERE id = $1", order)


def _orders(ctx: WorkloadContext) -> list[int]:
    # Odd orders are invalid (qty 0): jobs 1 and 3 fail.
    return list(range(ctx.count(10, minimum=6)))


def _orders_table(ctx: WorkloadContext) -> AbstractAsyncContextManager[str]:
    """The scratch table of orders: created and dropped by its `async with`."""
    rows = [(i, 0 if i % 2 else 5) for i in range(len(_orders(ctx)))]
    return db.scratch_table_async(ctx, db.table_name("orders"), "id INTEGER PRIMARY KEY, qty INTEGER", rows)


async def correct(ctx: WorkloadContext) -> None:
    async with _orders_table(ctx) as table, ConnectionPool(ctx, size=POOL_SIZE) as pool:
        for order in _orders(ctx):
            try:
                async with pool.acquire(timeout=ctx.seconds(0.5)) as conn:
                    await _job(conn, table, order)
            except InvalidOrder:
                pass  # the job fails; `async with` already gave its connection back
            await asyncio.sleep(ctx.seconds(0.02))


async def faulty(ctx: WorkloadContext) -> None:
    async with _orders_table(ctx) as table, ConnectionPool(ctx, size=POOL_SIZE) as pool:
        for order in _orders(ctx):
            try:
                conn = await pool.acquire(timeout=ctx.seconds(0.5))
                await _job(conn, table, order)
                await pool.release(conn)  # BUG: skipped when the job raises
            except InvalidOrder:
                pass
            except PoolExhausted as exc:
                current_recorder().mark(f"pool exhausted: {exc}")
                break  # every later job would wait and fail the same way
            await asyncio.sleep(ctx.seconds(0.02))


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="Jobs borrow pooled connections with `async with pool.acquire()`",
        narration=(
            f"A pool of {POOL_SIZE} connections, itself an `async with` block, serves a queue of jobs. "
            "Each job borrows a connection with `async with pool.acquire()`, so the failing jobs give it "
            "back as well. Look for short pool.checkout bars reusing the same two connections, and no "
            "waiting."
        ),
        expected_rules=frozenset(),
        func=correct,
        uses_db=True,
    ),
    Workload(
        name=f"{PATTERN}/faulty",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="faulty",
        title="A manual checkout never returned: the pool runs dry and acquire() times out",
        narration=(
            "The jobs check connections out by hand and call `release()` after the work, so each failing "
            f"job keeps its connection. After two failures the pool of {POOL_SIZE} is empty and the next "
            "`acquire()` times out (see the mark on the timeline). Look for the pool.checkout and "
            "db.connection bars that never end."
        ),
        expected_rules=frozenset({"unreleased"}),
        postgres_rules=frozenset({"db-backend-leak"}),
        func=faulty,
        uses_db=True,
    ),
)
