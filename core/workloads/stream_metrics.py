"""Pattern 8 - stream metrics over a real loopback TCP server (asyncio streams).

A server on 127.0.0.1 (port chosen by the OS) answers each request with a paced stream of
chunks. The client reads through `track_stream` and also keeps its own metrics - time to
first byte, chunks, bytes, duration, throughput - which it puts on the timeline as a mark to
compare with the recorder's. The correct client closes its writer; the faulty one never does,
so its socket stays open after the answer is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from withscope.core.context import Leftovers, WorkloadContext
from withscope.core.recorder import current_recorder
from withscope.core.streams import track_stream
from withscope.core.track import track

from .base import Workload

PATTERN = "stream-metrics"
PATTERN_TITLE = "Stream metrics over TCP"
HOST = "127.0.0.1"
CHUNK = 2048


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    ttfb_ms: float
    duration_ms: float
    chunks: int
    bytes: int

    @property
    def throughput_bps(self) -> float:
        return self.bytes * 1e3 / self.duration_ms if self.duration_ms > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"ttfb {self.ttfb_ms:.1f} ms, {self.chunks} chunks, {self.bytes} bytes in {self.duration_ms:.1f} ms "
            f"({self.throughput_bps / 1e3:.0f} kB/s)"
        )


class PacedServer:
    """Answers every request line with `chunks` chunks, `pace_s` apart, then closes its side.

    `async with PacedServer(...)` listens on 127.0.0.1 (OS-chosen port) and on exit stops
    listening and waits for the open answers to finish. One event loop only.
    """

    def __init__(self, chunks: int, pace_s: float) -> None:
        self.chunks = chunks
        self.pace_s = pace_s
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await reader.readline()
            for i in range(self.chunks):
                writer.write(bytes([65 + i % 26]) * CHUNK)
                await writer.drain()
                await asyncio.sleep(self.pace_s)
        except ConnectionError:
            pass  # the client went away
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def __aenter__(self) -> PacedServer:
        server = await asyncio.start_server(self._answer, HOST, 0)
        self.port = server.sockets[0].getsockname()[1]
        self._server = track(server, kind="server", label=f"tcp server {HOST}:{self.port}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5.0)


async def read_chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Whatever the socket delivers, until the server closes its side."""
    while chunk := await reader.read(1 << 16):
        yield chunk


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def fetch(port: int, leave_open_in: Leftovers | None = None) -> StreamMetrics:
    """Request one answer and measure it. Closes the connection - unless `leave_open_in` is given
    (the bug): then the writer is left open, held there until the run's cleanup."""
    start = time.perf_counter()
    reader, raw_writer = await asyncio.open_connection(HOST, port)
    writer = track(raw_writer)
    if leave_open_in is not None:
        leave_open_in.keep(writer, functools.partial(_close, writer))
    try:
        writer.write(b"GET /report\n")
        await writer.drain()
        first = 0.0
        chunks = nbytes = 0
        async with track_stream(read_chunks(reader), f"tcp {HOST}:{port}") as stream:
            async for chunk in stream:
                if not chunks:
                    first = time.perf_counter()
                chunks += 1
                nbytes += len(chunk)
        end = time.perf_counter()
        metrics = StreamMetrics((first - start) * 1e3, (end - start) * 1e3, chunks, nbytes)
    finally:
        if leave_open_in is None:  # the faulty client skips this: its writer is never closed
            await _close(writer)
    return metrics


async def _run(ctx: WorkloadContext, leave_open: bool) -> None:
    async with PacedServer(chunks=ctx.count(20, minimum=8), pace_s=ctx.seconds(0.01)) as server:
        for _ in range(ctx.count(3, minimum=2)):
            metrics = await fetch(server.port, ctx.leftovers if leave_open else None)
            current_recorder().mark(f"client metrics: {metrics}")


async def correct(ctx: WorkloadContext) -> None:
    await _run(ctx, leave_open=False)


async def faulty(ctx: WorkloadContext) -> None:
    await _run(ctx, leave_open=True)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="A TCP client measures each answer and closes its connection",
        narration=(
            "A loopback TCP server streams each answer in paced chunks, and the client reads them through "
            "`track_stream` while keeping its own time to first byte, chunk count, bytes and throughput. "
            "After each answer the client closes its writer and waits until it is closed. Look at the "
            "stream metrics next to the client's own mark, and one stream.writer bar per request, all ended."
        ),
        expected_rules=frozenset(),
        func=correct,
    ),
    Workload(
        name=f"{PATTERN}/faulty",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="faulty",
        title="The client reads every answer but never closes its writer",
        narration=(
            "The same client reads each answer to the end but never closes its writer. The server has closed "
            "its side, yet the client's socket stays open, one more per request. Look for the stream.writer "
            "bars that never end and the open sockets counted by the process sampler."
        ),
        expected_rules=frozenset({"unreleased"}),
        func=faulty,
    ),
)
