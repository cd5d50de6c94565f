"""Pattern 5 - selective exception suppression: a response writer.

`ResponseWriter.__exit__` closes its stream and returns True only for `BrokenPipeError` (the
client went away: expected, nothing to do) and False for everything else. The faulty writer
returns True for every exception, so a bug in the response code vanishes without a trace.
Both declare the one suppression they mean: `tracked(suppresses=(BrokenPipeError,))`.

The "clients" are pipes: a client that went away is a pipe whose read end is already closed,
so writing raises a real `BrokenPipeError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from withscope.core.context import WorkloadContext
from withscope.core.track import track, tracked

from .base import Workload

PATTERN = "suppression"
PATTERN_TITLE = "Selective exception suppression"


class _Writer:
    """Write one response to a client's file descriptor (taking ownership of it). Not reusable."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._out: IO[bytes] | None = None

    def __enter__(self) -> _Writer:
        self._out = track(open(self._fd, "wb", buffering=0))  # closed in __exit__
        return self

    def write(self, data: Any) -> None:
        if self._out is None:
            raise RuntimeError("use the writer in a `with` block")
        self._out.write(data)

    def _close(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            out.close()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> bool:
        raise NotImplementedError


# Each writer class is decorated on its own (not through inheritance): `tracked` instruments the
# class's own `__enter__`/`__exit__`, and a subclass of a tracked class would be recorded twice.
@tracked(kind="stream.writer", suppresses=(BrokenPipeError,))
class ResponseWriter(_Writer):
    """`__exit__` always closes the stream and suppresses `BrokenPipeError` only."""

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> bool:
        self._close()
        return et is not None and issubclass(et, BrokenPipeError)


@tracked(kind="stream.writer", suppresses=(BrokenPipeError,))
class SwallowingResponseWriter(_Writer):
    """BUG: suppresses every exception, not just the broken pipe it documents."""

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> bool:
        self._close()
        return True


@dataclass(frozen=True, slots=True)
class Response:
    body: Any  # bytes; a str is the bug: the stream wants bytes
    client_gone: bool = False


def _responses(ctx: WorkloadContext) -> list[Response]:
    ok = [Response(f"response {i}\n".encode()) for i in range(ctx.count(6, minimum=2))]
    return [*ok, Response(b"late answer\n", client_gone=True), Response("text instead of bytes\n")]


def _serve(ctx: WorkloadContext, writer: type[_Writer]) -> int:
    """Send each response to a new client pipe; returns how many arrived complete."""
    delivered = 0
    for resp in _responses(ctx):
        if ctx.stop.is_set():
            break
        r, w = os.pipe()
        try:
            if resp.client_gone:
                os.close(r)  # the client hung up before the answer
                r = -1
            try:
                with writer(w) as out:
                    w = -1  # the writer owns it now
                    out.write(resp.body)
            except TypeError:
                pass  # a bug in the response code: the service logs it and carries on
            if r >= 0 and os.read(r, 1 << 16) == resp.body:
                delivered += 1
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
        ctx.stop.wait(ctx.seconds(0.02))
    return delivered


def correct(ctx: WorkloadContext) -> None:
    _serve(ctx, ResponseWriter)


def faulty(ctx: WorkloadContext) -> None:
    _serve(ctx, SwallowingResponseWriter)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="A writer that suppresses only BrokenPipeError, as it declares",
        narration=(
            "A server writes responses through a writer whose `__exit__` swallows `BrokenPipeError` only: a "
            "client hanging up early is expected. A response built as text instead of bytes raises "
            "`TypeError`, which propagates and gets reported. Look for one writer ending with a suppressed, "
            "declared BrokenPipeError and one ending with the TypeError, and no alert."
        ),
        expected_rules=frozenset(),
        func=correct,
        blocking=True,
    ),
    Workload(
        name=f"{PATTERN}/faulty",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="faulty",
        title="A writer that swallows every exception",
        narration=(
            "This writer's `__exit__` returns True whatever the exception, although it declares only "
            "`BrokenPipeError`. The `TypeError` of the text response disappears: the client gets nothing and "
            "nobody is told. Look for the `suppressed-exception` alert naming the TypeError."
        ),
        expected_rules=frozenset({"suppressed-exception"}),
        func=faulty,
        blocking=True,
    ),
)
