"""Pattern 3 - `@contextmanager` and `@asynccontextmanager`: a timed block and a transaction.

`timed_block` measures a block in a `try`/`finally`; `transaction` issues BEGIN, then COMMIT
when the block succeeds or ROLLBACK when it raises. The faulty helper has no `try`/`except`:
an error in the block skips both, and the transaction stays open on its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

from withscope.core.context import WorkloadContext
from withscope.core.recorder import current_recorder
from withscope.core.track import tracked

from . import db
from .base import Workload

PATTERN = "transactions"
PATTERN_TITLE = "@contextmanager and @asynccontextmanager"

TxHelper = Callable[[db.AsyncConnection], AbstractAsyncContextManager[db.AsyncConnection]]


class InsufficientFunds(ValueError):
    """A transfer would overdraw its source account."""


@tracked
@contextmanager
def timed_block(name: str) -> Iterator[None]:
    """Time the block and put the result on the timeline as a mark, also when the block raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        current_recorder().mark(f"{name}: {(time.perf_counter() - start) * 1e3:.1f} ms")


@tracked
@asynccontextmanager
async def transaction(conn: db.AsyncConnection) -> AsyncIterator[db.AsyncConnection]:
    """BEGIN; COMMIT if the block succeeds, ROLLBACK (and re-raise) if it raises."""
    tx = await conn.begin()
    try:
        yield conn
    except BaseException:
        await tx.rollback()
        raise
    await tx.commit()


@tracked
@asynccontextmanager
async def transaction_unguarded(conn: db.AsyncConnection) -> AsyncIterator[db.AsyncConnection]:
    """BUG: no try/except - an error in the block skips COMMIT and there is no ROLLBACK."""
    tx = await conn.begin()
    yield conn
    await tx.commit()


async def _transfer(conn: db.AsyncConnection, helper: TxHelper, table: str, src: int, dst: int, amount: int) -> None:
    async with helper(conn):
        await conn.execute(f"UPDATE {table} SET balance = balance - $1 WHERE id = $2", amount, src)
        left = await conn.fetchval(f"SELECT balance FROM {table} WHERE id = $1", src)
        if int(left) < 0:
            raise InsufficientFunds(f"account {src} would be at {left}")
        await conn.execute(f"UPDATE {table} SET balance = balance + $1 WHERE id = $2", amount, dst)


def _transfers(ctx: WorkloadContext) -> list[tuple[int, int, int]]:
    ok = [(1 + i % 3, 1 + (i + 1) % 3, 10) for i in range(ctx.count(6, minimum=2))]
    return [*ok, (1, 2, 10_000)]  # the last one overdraws account 1


async def _run(ctx: WorkloadContext, helper: TxHelper) -> None:
    rows = [(1, 100), (2, 100), (3, 100)]
    columns = "id INTEGER PRIMARY KEY, balance INTEGER"
    scratch = db.scratch_table_async(ctx, db.table_name("accounts"), columns, rows)
    async with scratch as table, await db.connect_async(ctx) as conn:
        with timed_block("transfers"):
            for src, dst, amount in _transfers(ctx):
                with contextlib.suppress(InsufficientFunds):  # refused; the app carries on
                    await _transfer(conn, helper, table, src, dst, amount)
                await asyncio.sleep(ctx.seconds(0.02))
        await _report(ctx, conn)


async def _report(ctx: WorkloadContext, conn: db.AsyncConnection) -> None:
    """Put the connection's transaction state on the timeline (on PostgreSQL, as the server sees it)."""
    if not conn.in_transaction:
        return
    pid = conn.backend_pid
    state = await db.backend_state(ctx, pid) if pid is not None else None
    where = f"backend {pid}: {state}" if state else "connection still in a transaction"
    current_recorder().mark(f"transaction left open ({where})")


async def correct(ctx: WorkloadContext) -> None:
    await _run(ctx, transaction)


async def faulty(ctx: WorkloadContext) -> None:
    await _run(ctx, transaction_unguarded)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="Transfers in an `@asynccontextmanager` transaction that rolls back on error",
        narration=(
            "Money transfers run inside a `@contextmanager` timed block, each in an `@asynccontextmanager` "
            "transaction that commits on success and rolls back when the body raises. The last transfer "
            "would overdraw its account and is rolled back. Look for a db.transaction bar under every "
            "transfer, all ended, and the timing mark of the block."
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
        title="A transaction helper without try/except: the error skips the ROLLBACK",
        narration=(
            "The same transfers use a transaction helper with no `try`/`except`, so the overdrawing transfer "
            "raises past both COMMIT and ROLLBACK. Its `async with` block ends, but the db.transaction under "
            "it never does. Look for that open transaction and the mark showing the connection still in it "
            "(on PostgreSQL, a backend 'idle in transaction')."
        ),
        expected_rules=frozenset({"unreleased"}),
        func=faulty,
        uses_db=True,
    ),
)
