"""Pattern 9 - `ExitStack` / `AsyncExitStack` over a dynamic number of resources.

A merge job opens however many shard files there are on one `ExitStack` and however many
database connections it needs on one `AsyncExitStack`: leaving each block releases all of
them, in reverse order, whatever happened. The faulty job hands its files over with
`pop_all()` - the usual way to transfer ownership to a caller - and nobody ever closes the
popped stack, so every shard file stays open.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import IO

from withscope.core.context import WorkloadContext
from withscope.core.track import track

from . import db
from .base import Workload

PATTERN = "exit-stack"
PATTERN_TITLE = "ExitStack and AsyncExitStack"


def _make_shards(ctx: WorkloadContext) -> list[Path]:
    shards = []
    for i in range(ctx.count(6, minimum=3)):
        path = ctx.tmpdir / f"shard-{i}.txt"
        path.write_text("".join(f"{i}:{j}\n" for j in range(50)))
        shards.append(path)
    return shards


def _merge(files: list[IO[str]]) -> int:
    return sum(len(f.read().splitlines()) for f in files)


async def _check_shards(ctx: WorkloadContext, count: int) -> None:
    """Look the shards up in the database, one connection per shard group, all on one AsyncExitStack."""
    async with AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(await db.connect_async(ctx)) for _ in range(min(count, 3))]
        for conn in conns:
            await conn.fetchval("SELECT 1")
            await asyncio.sleep(ctx.seconds(0.02))


def _merge_shards(shards: list[Path]) -> int:
    with ExitStack() as stack:
        files = [stack.enter_context(track(open(p))) for p in shards]  # noqa: SIM115 (on the stack)
        return _merge(files)


async def correct(ctx: WorkloadContext) -> None:
    shards = _make_shards(ctx)
    try:
        _merge_shards(shards)
        await _check_shards(ctx, len(shards))
    finally:
        for p in shards:
            p.unlink(missing_ok=True)


def _open_shards(shards: list[Path]) -> tuple[list[IO[str]], ExitStack]:
    """Open every shard; on failure the stack closes the ones already open. Ownership of the open
    files passes to the caller through the popped stack, which the caller must close."""
    with ExitStack() as stack:
        files = [stack.enter_context(track(open(p))) for p in shards]  # noqa: SIM115 (on the stack)
        return files, stack.pop_all()


async def faulty(ctx: WorkloadContext) -> None:
    shards = _make_shards(ctx)
    try:
        files, owner = _open_shards(shards)
        # The run holds the popped stack, so the files stay open (and quiet) until the runner's cleanup.
        ctx.leftovers.keep(owner, owner.close)
        _merge(files)
        # BUG: `owner.close()` (or `with owner:`) never happens, so no shard file is ever closed.
        await _check_shards(ctx, len(shards))
    finally:
        for p in shards:
            p.unlink(missing_ok=True)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="Every shard file on one ExitStack, every connection on one AsyncExitStack",
        narration=(
            "A merge job opens a varying number of shard files on one `ExitStack`, then checks them in the "
            "database over several connections entered on one `AsyncExitStack`. Leaving each block closes "
            "everything on it, newest first. Look for the file bars ending together in reverse order, then the "
            "db.connection bars doing the same."
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
        title="Files handed over with `pop_all()` and never closed",
        narration=(
            "The job opens the shards in a helper that hands them to the caller with `stack.pop_all()`, which "
            "moves the cleanup to a new stack that the caller must close. The caller never closes it, so the "
            "helper's own `with` block ends with nothing to release. Look for the file bars that never end; "
            "the connections on the `AsyncExitStack` still end properly."
        ),
        expected_rules=frozenset({"unreleased"}),
        func=faulty,
        uses_db=True,
    ),
)
