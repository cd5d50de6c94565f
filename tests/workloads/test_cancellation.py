"""Stopping a workload at any moment - cancelling its task, or setting `ctx.stop` for a blocking
one - and then running the run's cleanup leaves nothing open: no lifetime, no file descriptor
(and on PostgreSQL no backend and no scratch table)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from pathlib import Path

import pytest
import workload_harness as wh
from withscope.core import Recorder
from withscope.core.context import DatabaseConfig, WorkloadContext
from withscope.core.workloads import CATALOGUE, Workload

DELAYS_S = (0.0, 0.015, 0.06)


async def _stop_after(w: Workload, ctx: WorkloadContext, delay_s: float) -> None:
    if w.blocking:
        fut = asyncio.get_running_loop().run_in_executor(None, w.func, ctx)
        await asyncio.sleep(delay_s)
        ctx.stop.set()
        await asyncio.wait_for(fut, 10)  # a blocking workload must notice the stop flag
        return
    coro = w.func(ctx)
    assert asyncio.iscoroutine(coro)
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(delay_s)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _stop_and_clean(w: Workload, tmp_path: Path, delay_s: float, postgres: bool = False) -> tuple[list[str], int, int]:
    tmpdir = tmp_path / uuid.uuid4().hex[:6]
    tmpdir.mkdir()
    app = f"withscope-test-{uuid.uuid4().hex[:8]}"
    ctx = WorkloadContext(tmpdir, DatabaseConfig(wh.PG_DSN if postgres else None, app), scale=wh.SCALE)

    async def main() -> list[str]:
        with Recorder() as rec:
            await _stop_after(w, ctx, delay_s)
            assert await ctx.leftovers.close_all() == []
            still_open = [f"{lt.kind} {lt.label} at {lt.site}" for lt in rec.lifetimes() if lt.is_open]
        if postgres:
            still_open += [f"backend {pid} ({state})" for pid, state in await wh.settled_backends(app)]
            still_open += [f"table {t}" for t in sorted(await wh.pg_scratch_tables() - tables_before)]
        return still_open

    tables_before = asyncio.run(wh.pg_scratch_tables()) if postgres else set()

    gc.collect()
    before = wh._PROC.num_fds()
    still_open = asyncio.run(main())
    gc.collect()
    return still_open, before, wh._PROC.num_fds()


@pytest.mark.parametrize("delay_s", DELAYS_S)
@pytest.mark.parametrize("name", list(CATALOGUE))
def test_stopped_then_cleaned_up_leaves_nothing_open(tmp_path: Path, name: str, delay_s: float) -> None:
    still_open, fds_before, fds_after = _stop_and_clean(CATALOGUE[name], tmp_path, delay_s)
    assert still_open == []
    assert fds_after <= fds_before


@pytest.mark.postgres
@pytest.mark.parametrize("delay_s", [0.0, 0.01, 0.03])  # also while the scratch table is being set up
@pytest.mark.parametrize("name", [w.name for w in CATALOGUE.values() if w.uses_db])
def test_stopped_then_cleaned_up_leaves_no_backend_nor_table(
    tmp_path: Path, name: str, delay_s: float, pg_unavailable: str | None
) -> None:
    if pg_unavailable is not None:
        pytest.skip(pg_unavailable)
    still_open, fds_before, fds_after = _stop_and_clean(CATALOGUE[name], tmp_path, delay_s, postgres=True)
    assert still_open == []
    assert fds_after <= fds_before
