"""`OutputReader`: the observed program's stdout and stderr, read on the loop and handed on as lines.

Used when a `ChildRun` captures the program's output (the app's console view; the CLI passes the
output through instead). Each stream is read with `connect_read_pipe` - never a blocking read -
and split into lines (`\\n`, a trailing `\\r` dropped, undecodable bytes replaced), each given to
`sink(stream, line)` on the loop thread, `stream` being "stdout" or "stderr"; the last partial
line is given at the end of the stream.

Bounded everywhere:
- a line longer than `MAX_LINE_CHARS` is elided to its head and a note of how much was cut; bytes
  of a line past that are counted, never kept, however long the line grows;
- at most `LINES_PER_SLICE` lines or `BYTES_PER_SLICE` bytes are taken per `SLICE_S` and stream:
  past that, reading pauses until the slice is over, so a program printing without pause cannot
  hold the loop (it waits on its full pipe, as it would behind a slow terminal).

An exception in `sink` is logged and the line is lost; it never reaches the run. Loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import IO, Any

log = logging.getLogger("withscope")

OutputSink = Callable[[str, str], None]  # (stream, line), on the loop thread

MAX_LINE_CHARS = 2000
SLICE_S = 0.05
LINES_PER_SLICE = 1000
BYTES_PER_SLICE = 512 * 1024


def elide(text: str, extra_chars: int = 0, limit: int = MAX_LINE_CHARS) -> str:
    """`text` cut to `limit` characters, with how many were cut (`extra_chars` more were never kept)."""
    cut = max(0, len(text) - limit) + extra_chars
    if not cut:
        return text
    return f"{text[:limit]} … [{cut:,} more characters]"


class _LineProtocol(asyncio.Protocol):
    def __init__(self, stream: str, sink: OutputSink) -> None:
        self.stream = stream
        self.sink = sink
        self.partial = bytearray()
        self.skipped = 0  # bytes of the current line past what is kept
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.ReadTransport | None = None
        self.lines = 0  # lines handed on
        self._slice_at = time.monotonic()
        self._slice_lines = 0
        self._slice_bytes = 0
        self._paused = False
        self.unlimited = False  # the run is over: what the pipe still holds (bounded) is read at once

    # Enough bytes of a line are kept to show MAX_LINE_CHARS characters of it (up to 4 bytes each).
    keep_bytes = 4 * MAX_LINE_CHARS + 4

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._keep(data[start:])
                break
            self._keep(data[start:nl])
            self._emit()
            start = nl + 1
        self._budget(len(data))

    def _keep(self, chunk: bytes) -> None:
        room = self.keep_bytes - len(self.partial)
        if len(chunk) <= room:
            self.partial += chunk
        else:
            self.partial += chunk[: max(0, room)]
            self.skipped += len(chunk) - max(0, room)

    def _emit(self) -> None:
        raw = bytes(self.partial)
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode("utf-8", errors="replace")
        line = elide(text, self.skipped)
        self.partial.clear()
        self.skipped = 0
        self.lines += 1
        self._slice_lines += 1
        try:
            self.sink(self.stream, line)
        except Exception:
            log.exception("withscope: the program's %s line could not be shown", self.stream)

    def _budget(self, nbytes: int) -> None:
        now = time.monotonic()
        if now - self._slice_at >= SLICE_S:
            self._slice_at, self._slice_lines, self._slice_bytes = now, 0, 0
        self._slice_bytes += nbytes
        if self.unlimited or (self._slice_lines < LINES_PER_SLICE and self._slice_bytes < BYTES_PER_SLICE):
            return
        if self.transport is None or self._paused:
            return
        self._paused = True
        self.transport.pause_reading()
        asyncio.get_running_loop().call_later(max(0.0, self._slice_at + SLICE_S - now), self._resume)

    def _resume(self) -> None:
        self._paused = False
        self._slice_at, self._slice_lines, self._slice_bytes = time.monotonic(), 0, 0
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def eof_received(self) -> bool | None:
        if self.partial or self.skipped:
            self._emit()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class OutputReader:
    """Reads a started process's stdout and stderr pipes (see the module docstring)."""

    def __init__(self) -> None:
        self._streams: list[tuple[asyncio.ReadTransport, _LineProtocol]] = []

    @classmethod
    async def attach(cls, pipes: dict[str, IO[bytes] | None], sink: OutputSink) -> OutputReader:
        """Start reading each named pipe (e.g. {"stdout": proc.stdout, "stderr": proc.stderr})."""
        self = cls()
        loop = asyncio.get_running_loop()
        for stream, pipe in pipes.items():
            if pipe is None:
                continue
            transport, proto = await loop.connect_read_pipe(lambda s=stream: _LineProtocol(s, sink), pipe)  # type: ignore[misc]
            self._streams.append((transport, proto))
        return self

    @property
    def lines(self) -> int:
        return sum(p.lines for _t, p in self._streams)

    async def read_to_end(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for every stream's end (what the program wrote last is then
        shown). True when all ended; a stream still open (a process outside the group holds it)
        is left to `close()`."""
        waiting: list[Any] = [p.closed for _t, p in self._streams if not p.closed.done()]
        if not waiting:
            return True
        for _t, p in self._streams:  # the run is over: what is left is read without the budget
            p.unlimited = True
            if p._paused:
                p._resume()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waiting), timeout_s)
        return all(p.closed.done() for _t, p in self._streams)

    def close(self) -> None:
        for transport, _p in self._streams:
            transport.close()
