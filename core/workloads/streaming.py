"""Pattern 6 - streaming with accumulated state.

An async generator holds a database connection while it pages through messages and yields
`(result, chunk)` pairs; `StreamResult` keeps the chunks, exposes the joined content and
refuses new chunks once finalized. The consumer stops early in both variants: the correct one
reads inside `async with track_stream(...)`, which closes the generator (and so its
connection); the faulty one just breaks out of the loop and leaves the generator suspended,
holding its connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from withscope.core.context import WorkloadContext
from withscope.core.streams import track_stream

from . import db
from .base import Workload

PATTERN = "streaming"
PATTERN_TITLE = "Streaming with accumulated state"
PAGE = 10


class StreamResult:
    """Chunks of one streamed answer. `content` joins them; `finalize()` freezes the result.

    Not thread-safe (one consumer task).
    """

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._size = 0
        self.finalized = False

    def add(self, chunk: str) -> None:
        if self.finalized:
            raise RuntimeError("the result is finalized; no more chunks")
        self._chunks.append(chunk)
        self._size += len(chunk)

    @property
    def content(self) -> str:
        return "".join(self._chunks)

    def __len__(self) -> int:
        return self._size

    def finalize(self) -> str:
        self.finalized = True
        return self.content


async def stream_messages(ctx: WorkloadContext, table: str) -> AsyncIterator[tuple[StreamResult, str]]:
    """Yield (accumulated result, new chunk) for every message, a page per query, on one connection."""
    result = StreamResult()
    async with await db.connect_async(ctx) as conn:
        offset = 0
        while True:
            rows = await conn.fetch(f"SELECT body FROM {table} ORDER BY id LIMIT $1 OFFSET $2", PAGE, offset)
            if not rows:
                break
            for (body,) in rows:
                result.add(str(body))
                yield result, str(body)
            offset += PAGE
            await asyncio.sleep(ctx.seconds(0.01))  # the next page is not there yet
    result.finalize()


def _enough(result: StreamResult, total: int) -> bool:
    return len(result) >= total // 2  # the preview needs half of the messages


def _messages(ctx: WorkloadContext) -> tuple[AbstractAsyncContextManager[str], int]:
    """The scratch table of messages (created and dropped by its `async with`), and their total size."""
    count = ctx.count(200, minimum=40)
    rows = [(i, f"message {i:05d}: " + "lorem ipsum " * 6) for i in range(count)]
    table = db.scratch_table_async(ctx, db.table_name("messages"), "id INTEGER PRIMARY KEY, body TEXT", rows)
    return table, sum(len(body) for _, body in rows)


async def correct(ctx: WorkloadContext) -> None:
    scratch, total = _messages(ctx)
    async with scratch as table:
        async with track_stream(stream_messages(ctx, table), label="messages") as stream:
            async for result, _chunk in stream:
                if _enough(result, total):
                    break  # leaving the block closes the generator, and so its connection
        result.finalize()


async def faulty(ctx: WorkloadContext) -> None:
    scratch, total = _messages(ctx)
    async with scratch as table:
        stream = track_stream(stream_messages(ctx, table), label="messages")
        # The run holds the stream, so once abandoned it stays open (asyncio would finalize it at
        # some later moment, qasync never) until the runner's cleanup closes it.
        ctx.leftovers.keep(stream, stream.aclose)
        async for result, _chunk in stream:
            if _enough(result, total):
                break  # BUG: the generator stays suspended, holding its connection
        result.finalize()


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="The consumer stops early inside `async with`, which closes the generator",
        narration=(
            "An async generator pages through messages on its own connection and yields each chunk with the "
            "accumulated result. The consumer stops once it has half of them, inside `async with "
            "track_stream(...)`, which closes the generator and so its connection. Look for the stream and "
            "its db.connection ending together, right after the last chunk read."
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
        title="The consumer breaks out early and never closes the async generator",
        narration=(
            "The same consumer breaks out of a plain `async for` loop. The generator stays suspended at its "
            "`yield` and keeps its connection, because nothing ever closes it. Look for the stream and its "
            "db.connection both still open at the end; on PostgreSQL the server backend stays too."
        ),
        expected_rules=frozenset({"unreleased"}),
        postgres_rules=frozenset({"db-backend-leak"}),
        func=faulty,
        uses_db=True,
    ),
)
