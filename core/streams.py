"""`track_stream()`: pass chunks through unchanged while recording stream metrics.

A tracked stream is also a lifetime of kind `stream`: acquired when `track_stream()` is called,
released when the source is exhausted, when the consumer closes it (`close()`/`aclose()`, or
`with`/`async with` around it), or - if the consumer just drops it mid-way - by the garbage
collector (outcome `gc`: the faulty "consumer stops early" pattern).

Metrics are cumulative counters posted every `interval_s` (and at the end), so the per-chunk
cost is a clock read, two additions and a comparison.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Generator, Iterable, Iterator
from time import perf_counter_ns
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import track as _track
from .events import FLAG_CLOSE, OUT_GC, OUT_RELEASED, OUT_RELEASED_WITH_ERROR, STREAM
from .recorder import Recorder, current_recorder

log = logging.getLogger("withscope")
_track.SKIP_FILES.add(__file__)

T = TypeVar("T")

_SIZED = (bytes, bytearray, memoryview, str)


def chunk_size(chunk: Any) -> int:
    """Bytes of a chunk: len() of bytes-like and str chunks, the last item of a tuple, else 0."""
    if isinstance(chunk, _SIZED):
        return len(chunk)
    if isinstance(chunk, tuple) and chunk and isinstance(chunk[-1], _SIZED):
        return len(chunk[-1])
    return 0


class _State:
    """Counters shared by the stream object and its generator (no back-reference: no cycle)."""

    __slots__ = ("closing", "done", "lid", "rec", "started")

    def __init__(self, rec: Recorder, lid: int) -> None:
        self.rec = rec
        self.lid = lid
        self.started = False
        self.closing = False
        self.done = False

    def post(self, t_ns: int, chunks: int, nbytes: int, first_ns: int) -> None:
        self.rec.push((STREAM, self.lid, t_ns, chunks, nbytes, first_ns))

    def finish(self, code: int, exc: BaseException | None, flags: int = 0) -> None:
        if self.done:
            return
        self.done = True
        try:
            _track.release(self.rec, self.lid, code, exc, flags)
        except Exception:
            log.exception("withscope: could not record the end of a stream")


class _Base:
    __slots__ = ("_state",)
    _state: _State

    @property
    def lifetime_id(self) -> int:
        return self._state.lid

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        # Never iterated and dropped: nobody else will end it. (An iterated stream is ended by
        # its generator's finally, which also runs when the generator is collected.)
        if state is not None and not state.started and not state.done:
            state.finish(OUT_GC, None)


class TrackedStream(_Base, Generic[T]):
    """A sync iterable wrapper. Iterate it once; close it (or use `with`) when stopping early."""

    __slots__ = ("_gen",)

    def __init__(self, source: Iterable[T], state: _State, interval_ns: int, size: Callable[[Any], int]):
        self._state = state
        self._gen = _sync_gen(iter(source), state, interval_ns, size)

    def __iter__(self) -> Iterator[T]:
        self._state.started = True
        return self._gen

    def __next__(self) -> T:
        self._state.started = True
        return next(self._gen)

    def close(self) -> None:
        state = self._state
        state.closing = True
        state.started = True
        self._gen.close()
        state.finish(OUT_RELEASED, None, FLAG_CLOSE)

    def __enter__(self) -> TrackedStream[T]:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncTrackedStream(_Base, Generic[T]):
    """An async iterable wrapper. Use `async with` (or `aclose()`) when stopping early: event loops
    without async-generator hooks (qasync) never finalize an abandoned async generator."""

    __slots__ = ("_gen", "_source")

    def __init__(
        self, source: AsyncIterable[T], state: _State, interval_ns: int, size: Callable[[Any], int]
    ) -> None:
        self._state = state
        self._source = source
        self._gen = _async_gen(source.__aiter__(), state, interval_ns, size)

    def __aiter__(self) -> AsyncIterator[T]:
        self._state.started = True
        return self._gen

    async def __anext__(self) -> T:
        self._state.started = True
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        state = self._state
        state.closing = True
        state.started = True
        try:
            await self._gen.aclose()
            inner = getattr(self._source, "aclose", None)
            if inner is not None:
                await inner()
        finally:
            state.finish(OUT_RELEASED, None, FLAG_CLOSE)

    async def __aenter__(self) -> AsyncTrackedStream[T]:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _sync_gen(
    it: Iterator[T], state: _State, interval_ns: int, size: Callable[[Any], int]
) -> Generator[T, None, None]:
    chunks = nbytes = 0
    first = 0
    next_post = 0
    t = 0
    try:
        for chunk in it:
            t = perf_counter_ns()
            chunks += 1
            nbytes += size(chunk)
            if t >= next_post:
                if not first:
                    first = t
                state.post(t, chunks, nbytes, first)
                next_post = t + interval_ns
            yield chunk
    except GeneratorExit:
        if chunks:
            state.post(t, chunks, nbytes, first)
        state.finish(OUT_RELEASED if state.closing else OUT_GC, None)
        raise
    except BaseException as exc:
        state.post(perf_counter_ns(), chunks, nbytes, first)
        state.finish(OUT_RELEASED_WITH_ERROR, exc)
        raise
    state.post(perf_counter_ns(), chunks, nbytes, first)
    state.finish(OUT_RELEASED, None)


async def _async_gen(
    it: AsyncIterator[T], state: _State, interval_ns: int, size: Callable[[Any], int]
) -> AsyncGenerator[T, None]:
    chunks = nbytes = 0
    first = 0
    next_post = 0
    t = 0
    try:
        async for chunk in it:
            t = perf_counter_ns()
            chunks += 1
            nbytes += size(chunk)
            if t >= next_post:
                if not first:
                    first = t
                state.post(t, chunks, nbytes, first)
                next_post = t + interval_ns
            yield chunk
    except GeneratorExit:
        # Closed: by aclose() (closing=True), or finalized by the loop/GC without a close.
        if chunks:
            state.post(t, chunks, nbytes, first)
        state.finish(OUT_RELEASED if state.closing else OUT_GC, None)
        raise
    except BaseException as exc:
        state.post(perf_counter_ns(), chunks, nbytes, first)
        state.finish(OUT_RELEASED_WITH_ERROR, exc)
        raise
    state.post(perf_counter_ns(), chunks, nbytes, first)
    state.finish(OUT_RELEASED, None)


def track_stream(
    source: Iterable[T] | AsyncIterable[T],
    label: str | None = None,
    *,
    interval_s: float = 0.02,
    size: Callable[[Any], int] = chunk_size,
    recorder: Recorder | None = None,
) -> Any:
    """Wrap a sync or async iterable: yields the same chunks and records stream metrics
    (time to first chunk, chunks, bytes, duration, cumulative series every `interval_s`).

    Returns a `TrackedStream` or `AsyncTrackedStream`; iterate it once.
    """
    rec = recorder if recorder is not None else current_recorder()
    is_async = hasattr(source, "__aiter__")
    if not is_async and not hasattr(source, "__iter__"):
        raise TypeError(f"track_stream() needs an iterable or async iterable, got {type(source).__qualname__}")
    name = label or getattr(source, "__qualname__", None) or getattr(source, "__name__", None)
    if not name:
        code = getattr(source, "gi_code", None) or getattr(source, "ag_code", None)
        name = code.co_qualname if code is not None else type(source).__qualname__
    t = perf_counter_ns()
    lid = _track.acquire(rec, "stream", str(name), _track._user_frame(1), t)
    state = _State(rec, lid)
    interval_ns = max(0, int(interval_s * 1e9))
    if is_async:
        return AsyncTrackedStream(source, state, interval_ns, size)  # type: ignore[arg-type]
    return TrackedStream(source, state, interval_ns, size)  # type: ignore[arg-type]
