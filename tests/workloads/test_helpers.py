"""The pieces the workloads are built from: the run's Leftovers, the database helpers, the pool and
the lesson classes themselves - including their failing-body, re-entry and cancellation paths."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from withscope.core import Outcome, Recorder
from withscope.core.context import Leftovers, WorkloadContext
from withscope.core.workloads import class_cm, cleanup, db, suppression, transactions
from withscope.core.workloads.pool import ConnectionPool, PoolExhausted


class Boom(Exception):
    pass


# ------------------------------------------------------------------------------- Leftovers
def test_leftovers_close_newest_first_awaiting_async_closers() -> None:
    order: list[str] = []
    left = Leftovers()

    async def aclose() -> None:
        await asyncio.sleep(0)
        order.append("async")

    left.keep("a", lambda: order.append("a"))
    left.keep("b", aclose)
    left.keep("c", None)
    left.keep("d", lambda: order.append("d"))
    assert len(left) == 4
    assert left.held() == ["a", "b", "c", "d"]
    assert asyncio.run(left.close_all()) == []
    assert order == ["d", "async", "a"]
    assert len(left) == 0


def test_leftovers_discard_forgets_and_ignores_unknown_tokens() -> None:
    left = Leftovers()
    token = left.keep("x", lambda: pytest.fail("a discarded entry must not be closed"))
    left.discard(token)
    left.discard(token)
    left.discard(12345)
    assert asyncio.run(left.close_all()) == []


def test_leftovers_a_failing_closer_does_not_keep_the_others_open() -> None:
    closed: list[str] = []
    left = Leftovers()
    left.keep("first", lambda: closed.append("first"))

    def fail() -> None:
        raise OSError("cannot")

    left.keep("second", fail)
    errors = asyncio.run(left.close_all())
    assert closed == ["first"]
    assert len(errors) == 1
    assert "OSError: cannot" in errors[0]


def test_leftovers_keep_from_many_threads() -> None:
    left = Leftovers()
    threads = [threading.Thread(target=lambda: [left.keep(i) for i in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(left) == 800


def test_context_scales_counts_and_seconds(tmp_path: Path) -> None:
    ctx = WorkloadContext(tmpdir=tmp_path, scale=0.2)
    assert ctx.count(10) == 2
    assert ctx.count(1) == 1
    assert ctx.count(10, minimum=5) == 5
    assert ctx.seconds(0.5) == pytest.approx(0.1)


# ------------------------------------------------------------------------------ db helpers
def test_qmark_and_unique_table_names() -> None:
    assert db.qmark("SELECT $1, $2 WHERE a = $10") == "SELECT ?, ? WHERE a = ?"
    assert db.table_name("t") != db.table_name("t")
    assert db.table_name("t").startswith("withscope_t_")


def test_async_connection_is_tracked_and_held_until_closed(tmp_path: Path) -> None:
    ctx = WorkloadContext(tmpdir=tmp_path)

    async def main() -> None:
        conn = await db.connect_async(ctx)
        assert len(ctx.leftovers) == 1
        assert await conn.fetchval("SELECT $1 + $2", 1, 2) == 3
        await conn.aclose()
        await conn.aclose()  # idempotent
        assert len(ctx.leftovers) == 0
        async with await db.connect_async(ctx) as c2:
            assert not c2.in_transaction
        assert len(ctx.leftovers) == 0

    with Recorder() as rec:
        asyncio.run(main())
    lts = rec.lifetimes()
    assert [(lt.kind, lt.outcome) for lt in lts] == [("db.connection", Outcome.RELEASED)] * 2
    assert all(lt.site is not None and lt.site.startswith("tests/workloads/test_helpers.py:") for lt in lts)


def test_sync_connection_closes_on_a_failing_body(tmp_path: Path) -> None:
    ctx = WorkloadContext(tmpdir=tmp_path)

    def failing() -> None:
        with db.connect_sync(ctx) as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
            raise Boom

    with Recorder() as rec:
        with pytest.raises(Boom):
            failing()
        assert len(ctx.leftovers) == 0
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR


def test_transaction_commit_rollback_and_forgotten(tmp_path: Path) -> None:
    ctx = WorkloadContext(tmpdir=tmp_path)

    async def main() -> list[int]:
        async with await db.connect_async(ctx) as conn:
            await conn.execute("CREATE TABLE t (x INTEGER)")
            tx = await conn.begin()
            await conn.execute("INSERT INTO t VALUES ($1)", 1)
            await tx.commit()
            tx = await conn.begin()
            await conn.execute("INSERT INTO t VALUES ($1)", 2)
            await tx.rollback()
            await conn.begin()  # never ended
            assert conn.in_transaction
            rows = await conn.fetch("SELECT x FROM t")
            return [r[0] for r in rows]

    with Recorder() as rec:
        assert asyncio.run(main()) == [1]
        txs = [lt for lt in rec.lifetimes() if lt.kind == "db.transaction"]
        assert [lt.outcome for lt in txs] == [Outcome.RELEASED, Outcome.RELEASED, Outcome.OPEN]
        assert len(ctx.leftovers) == 1  # the forgotten one, held for the runner's cleanup
        assert asyncio.run(ctx.leftovers.close_all()) == []


# ---------------------------------------------------------------------------------- pool
def _pool_run(tmp_path: Path, body: object) -> tuple[Recorder, WorkloadContext]:
    ctx = WorkloadContext(tmpdir=tmp_path)
    rec = Recorder()
    with rec:
        asyncio.run(body(ctx))  # type: ignore[operator]
    return rec, ctx


def test_pool_returns_the_connection_when_the_body_raises(tmp_path: Path) -> None:
    async def body(ctx: WorkloadContext) -> None:
        async with ConnectionPool(ctx, size=1) as pool:

            async def failing() -> None:
                async with pool.acquire(timeout=1) as conn:
                    await conn.fetchval("SELECT 1")
                    raise Boom

            with pytest.raises(Boom):
                await failing()
            async with pool.acquire(timeout=1):  # the single connection is back
                pass
            assert pool.checked_out == 0

    rec, ctx = _pool_run(tmp_path, body)
    outcomes = {lt.kind: lt.outcome for lt in rec.lifetimes() if lt.kind != "pool.checkout"}
    assert outcomes == {"db.connection": Outcome.RELEASED, "db.pool": Outcome.RELEASED}
    checkouts = [lt.outcome for lt in rec.lifetimes() if lt.kind == "pool.checkout"]
    assert checkouts == [Outcome.RELEASED, Outcome.RELEASED]
    assert len(ctx.leftovers) == 0


def test_pool_returns_the_connection_when_the_body_is_cancelled(tmp_path: Path) -> None:
    async def body(ctx: WorkloadContext) -> None:
        async with ConnectionPool(ctx, size=1) as pool:
            started = asyncio.Event()

            async def job() -> None:
                async with pool.acquire(timeout=1):
                    started.set()
                    await asyncio.sleep(10)

            task = asyncio.create_task(job())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pool.checked_out == 0

    rec, ctx = _pool_run(tmp_path, body)
    assert not [lt for lt in rec.lifetimes() if lt.is_open]
    assert len(ctx.leftovers) == 0


def test_pool_exhausted_acquire_times_out_without_a_lifetime(tmp_path: Path) -> None:
    async def body(ctx: WorkloadContext) -> None:
        async with ConnectionPool(ctx, size=1) as pool:
            conn = await pool.acquire()
            with pytest.raises(PoolExhausted, match="1 of 1 checked out"):
                await pool.acquire(timeout=0.01)
            await pool.release(conn)
            with pytest.raises(ValueError, match="not checked out"):
                await pool.release(conn)

    rec, _ = _pool_run(tmp_path, body)
    assert [lt.outcome for lt in rec.lifetimes() if lt.kind == "pool.checkout"] == [Outcome.RELEASED]


def test_pool_misuse_is_refused(tmp_path: Path) -> None:
    async def body(ctx: WorkloadContext) -> None:
        pool = ConnectionPool(ctx, size=1)
        with pytest.raises(RuntimeError, match="inside `async with"):
            await pool.acquire()
        async with pool:
            with pytest.raises(RuntimeError, match="only once"):
                await pool.__aenter__()
            acq = pool.acquire()
            async with acq:
                with pytest.raises(RuntimeError, match="already in use"):
                    await acq.__aenter__()
        with pytest.raises(ValueError, match="at least one"):
            ConnectionPool(ctx, size=0)

    _pool_run(tmp_path, body)


def test_pool_exit_leaves_a_checked_out_connection_to_its_holder(tmp_path: Path) -> None:
    async def body(ctx: WorkloadContext) -> None:
        async with ConnectionPool(ctx, size=2) as pool:
            await pool.acquire()  # never released

    rec, ctx = _pool_run(tmp_path, body)
    assert sorted(lt.kind for lt in rec.lifetimes() if lt.is_open) == ["db.connection", "pool.checkout"]
    assert len(ctx.leftovers) == 2
    assert asyncio.run(ctx.leftovers.close_all()) == []


# --------------------------------------------------------------------- the lesson classes
def test_database_connection_closes_on_failing_and_interrupted_bodies(tmp_path: Path) -> None:
    ctx = WorkloadContext(tmpdir=tmp_path)

    def failing(exc: type[BaseException]) -> None:
        with class_cm.DatabaseConnection(ctx) as conn:
            assert conn.fetchval("SELECT 1") == 1
            raise exc

    with Recorder() as rec:
        for exc in (Boom, KeyboardInterrupt):
            with pytest.raises(exc):
                failing(exc)
        handled = class_cm.DatabaseConnection(ctx)
        try:
            with handled:
                raise Boom
        except Boom:
            pass
        with pytest.raises(RuntimeError, match="not connected"):
            handled.fetchval("SELECT 1")
        twice = class_cm.DatabaseConnection(ctx)
        twice.connect()
        with pytest.raises(RuntimeError, match="already connected"):
            twice.connect()
        twice.close()
        twice.close()
    assert [lt.is_open for lt in rec.lifetimes()] == [False] * 4
    assert len(ctx.leftovers) == 0


def test_file_processor_deletes_spills_when_the_body_raises(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"a\nb\n")
    spilled: list[Path] = []

    def failing(processor: type[cleanup.FileProcessor]) -> None:
        with processor(src, tmp_path) as proc:
            spilled.append(proc.spill([b"x"]))
            assert spilled[-1].exists()
            raise Boom

    with pytest.raises(Boom):
        failing(cleanup.FileProcessor)
    assert not spilled[-1].exists()
    with pytest.raises(Boom):
        failing(cleanup.FileProcessorCleansOnSuccess)
    assert spilled[-1].exists()
    with pytest.raises(RuntimeError, match="`with` block"):
        cleanup.FileProcessor(src, tmp_path).lines()


def test_response_writers_suppress_what_they_should() -> None:
    def write(writer: type[suppression._Writer], data: object, client_gone: bool) -> None:
        r, w = os.pipe()
        try:
            if client_gone:
                os.close(r)
                r = -1
            with writer(w) as out:
                w = -1
                out.write(data)
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)

    write(suppression.ResponseWriter, b"x", client_gone=True)  # swallowed, as declared
    with pytest.raises(TypeError):
        write(suppression.ResponseWriter, "text", client_gone=False)
    write(suppression.SwallowingResponseWriter, "text", client_gone=False)  # the bug: swallowed


def test_transaction_rolls_back_on_error_and_on_cancel(tmp_path: Path) -> None:
    ctx = WorkloadContext(tmpdir=tmp_path)

    async def main() -> int:
        async with await db.connect_async(ctx) as conn:
            await conn.execute("CREATE TABLE t (x INTEGER)")

            async def failing() -> None:
                async with transactions.transaction(conn):
                    await conn.execute("INSERT INTO t VALUES (1)")
                    raise Boom

            with pytest.raises(Boom):
                await failing()
            started = asyncio.Event()

            async def slow() -> None:
                async with transactions.transaction(conn):
                    await conn.execute("INSERT INTO t VALUES (2)")
                    started.set()
                    await asyncio.sleep(10)

            task = asyncio.create_task(slow())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not conn.in_transaction
            return int(await conn.fetchval("SELECT count(*) FROM t"))

    with Recorder() as rec:
        assert asyncio.run(main()) == 0
    assert not [lt for lt in rec.lifetimes() if lt.is_open]
    assert len(ctx.leftovers) == 0
