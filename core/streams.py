"""`track_stream()`: pass chunks through unchanged while recording stream metrics.

A tracked stream is also a lifetime of kind `stream`: acquired when `track_stream()` is called,
released when the source is exhausted (`released`) or raises (`released-with-error`), when the
consumer closes it (`close()`/`aclose()`, or `with`/`async with` around it: `released`, with
the block's exception if one passed through), or - if the consumer just drops it mid-way - when
the stream object is garbage-collected (outcome `gc`: the faulty "consumer stops early"
pattern).

Garbage-collection detection, deterministic on CPython (reference counting):
- sync: the counting generator is started ("primed") when the stream is created, so it is
  always suspended inside its `try`; `iter(s)` hands out that generator itself (no per-chunk
  wrapper call). When the last reference to it goes (the stream object and any loop holding
  it), its `GeneratorExit` handler records `gc`; the source is then finalized by reference
  counting, as it would be bare.
- async: the stream object is its own async iterator (`aiter(s) is s`), and its `__del__`
  records `gc` when it dies. The source async generator is then finalized as it would be bare:
  plain asyncio's async-generator hooks schedule its `aclose()` on the loop (its `finally` runs
  a few loop turns later); qasync installs no hooks, so it is closed synchronously when
  collected. Closing (`close()`/`aclose()`/`with`) closes the source iterator too when it has
`close()`/`aclose()`, like `contextlib.closing`/`aclosing`.

Metrics are cumulative counters posted every `interval_s` (and at the end); between clock
reads (see `_next_stride`) the per-chunk cost is a type check, two additions and a comparison.
Stream updates may be refused by a full recorder buffer (counted in `Recorder.dropped`); the
end of a stream never is.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Generator, Iterable, Iterator
from time import perf_counter_ns
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import lifecycle as _lc
from ._accel import speedups as _C
from .events import FLAG_CLOSE, OUT_EXIT_RAISED, OUT_GC, OUT_RELEASED, OUT_RELEASED_WITH_ERROR, STREAM
from .recorder import Recorder, current_recorder

log = logging.getLogger("withscope")
_lc.SKIP_FILES.add(__file__)

T = TypeVar("T")

_SIZED = (bytes, bytearray, str)


def chunk_size(chunk: Any) -> int:
    """Size of a chunk: len() of bytes-like and str chunks (characters for str), `nbytes` of a
    memoryview, the same of the last item of a tuple, else 0."""
    if isinstance(chunk, _SIZED):
        return len(chunk)
    if isinstance(chunk, memoryview):
        return chunk.nbytes
    if isinstance(chunk, tuple) and chunk:
        last = chunk[-1]
        if isinstance(last, _SIZED):
            return len(last)
        if isinstance(last, memoryview):
            return last.nbytes
    return 0


class _State:
    """Shared by the stream object and its generator (no back-reference: no cycle)."""

    __slots__ = ("closing", "done", "lid", "rec")

    # Invariant: `done` turns True exactly once, when the one release of `lid` is recorded;
    # `closing` is True while close()/aclose() runs (the generator then leaves the release to it).

    def __init__(self, rec: Recorder, lid: int) -> None:
        self.rec = rec
        self.lid = lid
        self.closing = False
        self.done = False

    def post(self, t_ns: int, chunks: int, nbytes: int, first_ns: int) -> None:
        if self.lid < 0:
            return
        try:
            self.rec.push((STREAM, self.lid, t_ns, chunks, nbytes, first_ns))
        except Exception:
            log.exception("withscope: could not record stream progress")

    def finish(self, code: int, exc: BaseException | None, flags: int = 0) -> None:
        if self.done:
            return
        self.done = True
        if self.lid < 0:
            return
        try:
            _lc.release(self.rec, self.lid, code, exc, flags)
        except Exception:
            log.exception("withscope: could not record the end of a stream")


class _Base:
    __slots__ = ("_state",)
    _state: _State

    @property
    def lifetime_id(self) -> int | None:
        """Id of the stream's lifetime (None if the recorder refused it)."""
        lid = self._state.lid
        return lid if lid >= 0 else None


class TrackedStream(_Base, Generic[T]):
    """A sync iterable wrapper. Iterate it once; close it (or use `with`) when stopping early.

    `iter(s)` returns the counting iterator itself (`_sync_gen`, or its C twin
    `_speedups.StreamIter`). Not thread-safe (like the generator it wraps): one consumer at a time.
    """

    __slots__ = ("_gen", "_source")

    def __init__(self, source: Iterable[T], state: _State, interval_ns: int, size: Callable[[Any], int]):
        self._state = state
        self._source = source
        self._gen: Iterator[T]
        if _C is not None:
            self._gen = _C.StreamIter(source, _Meter(state, interval_ns), size, size is chunk_size)
        else:
            gen = self._gen = _sync_gen(source, state, interval_ns, size)
            next(gen)  # prime: from now on closing or collecting it runs its GeneratorExit handler

    def __iter__(self) -> Iterator[T]:
        return self._gen

    def __next__(self) -> T:
        return next(self._gen)

    def _close(self, ev: BaseException | None) -> None:
        state = self._state
        state.closing = True
        try:
            self._gen.close()  # type: ignore[attr-defined]  # a generator or a StreamIter
            source = self._source
            close = getattr(source, "close", None) if hasattr(source, "__next__") else None  # an iterator
            if close is not None:
                close()
        except BaseException as exc:
            state.finish(OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        finally:
            state.closing = False
        if ev is None:
            state.finish(OUT_RELEASED, None, FLAG_CLOSE)
        else:
            state.finish(OUT_RELEASED_WITH_ERROR, ev, FLAG_CLOSE)

    def close(self) -> None:
        """Stop early: close the wrapper and the source iterator; records the release."""
        self._close(None)

    def __enter__(self) -> TrackedStream[T]:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._close(ev)


class AsyncTrackedStream(_Base, Generic[T]):
    """An async iterator wrapper. Use `async with` (or `aclose()`) when stopping early: event loops
    without async-generator hooks (qasync) never finalize an abandoned async generator, and
    plain asyncio does it only later, on the loop.

    Not task-safe (like the async generator it wraps): one consumer at a time.
    """

    __slots__ = ("_gen", "_source")

    def __init__(
        self, source: AsyncIterable[T], state: _State, interval_ns: int, size: Callable[[Any], int]
    ) -> None:
        self._state = state
        self._source = source
        self._gen = _async_gen(source, state, interval_ns, size)

    def __aiter__(self) -> AsyncTrackedStream[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        return self._gen.__anext__()

    async def _aclose(self, ev: BaseException | None) -> None:
        state = self._state
        state.closing = True
        try:
            await self._gen.aclose()
            source = self._source
            aclose = getattr(source, "aclose", None) if hasattr(source, "__anext__") else None
            if aclose is not None:
                await aclose()
        except BaseException as exc:
            state.finish(OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        finally:
            state.closing = False
        if ev is None:
            state.finish(OUT_RELEASED, None, FLAG_CLOSE)
        else:
            state.finish(OUT_RELEASED_WITH_ERROR, ev, FLAG_CLOSE)

    async def aclose(self) -> None:
        """Stop early: close the wrapper and the source async iterator; records the release."""
        await self._aclose(None)

    async def __aenter__(self) -> AsyncTrackedStream[T]:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._aclose(ev)

    def __del__(self) -> None:
        # The generator cannot be closed synchronously here (closing awaits): record `gc` now.
        # Its last counters follow when the loop (or the collector) finalizes it.
        state = getattr(self, "_state", None)
        if state is not None and not state.done:
            state.finish(OUT_GC, None)


# Clock reads (target: a tracked stream within 1.5x a bare one, 1 KiB chunks; benchmarks/). The generators
# read the clock at the first chunk (time to first byte) and then every `stride` chunks, where
# `stride` adapts at each read so that reads land about 8 times per `interval_s` (1 when chunks
# are slower than that, or when `interval_s` is 0; at most _MAX_STRIDE): a post is late by at
# most ~1/8 interval, and each posted (t, chunks, bytes) point is exact for the chunk at which the
# clock was read. The size of a `bytes` chunk is taken inline when `size` is the default
# `chunk_size` (one type check and `len`, no call).
_MAX_STRIDE = 256


def _next_stride(stride: int, dt_ns: int, interval_ns: int) -> int:
    """Chunks between clock reads, given that the last `stride` chunks took `dt_ns`."""
    if dt_ns <= 0:
        return min(stride * 2, _MAX_STRIDE)
    return max(1, min(_MAX_STRIDE, (interval_ns >> 3) * stride // dt_ns))


class _Meter:
    """The clock side of a stream generator, shared by the sync and async one: what happens at
    a clock read and when the stream ends. The generators keep the per-chunk counting in their
    own locals and call `read` only when `chunks` reaches the check point it returned.
    One generator's, not thread-safe."""

    __slots__ = ("first", "interval_ns", "next_post", "state", "stride", "t", "timed")

    def __init__(self, state: _State, interval_ns: int) -> None:
        self.state = state
        self.interval_ns = interval_ns
        self.first = 0
        self.t = 0  # the last clock read, at chunk `timed`
        self.timed = 0
        self.next_post = 0
        self.stride = 1

    def read(self, chunks: int, nbytes: int) -> int:
        """A clock read at chunk `chunks`: post when due, adapt the stride; returns the chunk
        count at which to read the clock next."""
        now = perf_counter_ns()
        if now >= self.next_post:
            if not self.first:
                self.first = now
            self.state.post(now, chunks, nbytes, self.first)
            self.next_post = now + self.interval_ns
        self.stride = _next_stride(self.stride, now - self.t, self.interval_ns) if self.t else 1
        self.t = now
        self.timed = chunks
        return chunks + self.stride

    def closed(self, chunks: int, nbytes: int) -> None:
        """The generator was closed (by close()/aclose(), which records the release) or
        collected / finalized without one (then: `gc`)."""
        if chunks:
            self.state.post(self.t if self.timed == chunks else perf_counter_ns(), chunks, nbytes, self.first)
        if not self.state.closing:
            self.state.finish(OUT_GC, None)

    def ended(self, chunks: int, nbytes: int, exc: BaseException | None) -> None:
        """The source ran out (`exc` None) or raised `exc`."""
        self.state.post(perf_counter_ns(), chunks, nbytes, self.first)
        self.state.finish(OUT_RELEASED if exc is None else OUT_RELEASED_WITH_ERROR, exc)


def _sync_gen(
    source: Iterable[T], state: _State, interval_ns: int, size: Callable[[Any], int]
) -> Generator[T, None, None]:
    meter = _Meter(state, interval_ns)
    chunks = nbytes = 0
    check = 1  # read the clock when `chunks` reaches this
    inline = size is chunk_size
    try:
        yield None  # type: ignore[misc]  # the priming step (see TrackedStream.__init__)
        for chunk in source:
            chunks += 1
            if inline and type(chunk) is bytes:
                nbytes += len(chunk)  # type: ignore[arg-type]  # checked: bytes
            else:
                nbytes += size(chunk)
            if chunks >= check:
                check = meter.read(chunks, nbytes)
            yield chunk
    except GeneratorExit:
        meter.closed(chunks, nbytes)
        raise
    except BaseException as exc:
        meter.ended(chunks, nbytes, exc)
        raise
    meter.ended(chunks, nbytes, None)


async def _async_gen(
    source: AsyncIterable[T], state: _State, interval_ns: int, size: Callable[[Any], int]
) -> AsyncGenerator[T, None]:
    meter = _Meter(state, interval_ns)
    chunks = nbytes = 0
    check = 1
    inline = size is chunk_size
    try:
        async for chunk in source:
            chunks += 1
            if inline and type(chunk) is bytes:
                nbytes += len(chunk)  # type: ignore[arg-type]  # checked: bytes
            else:
                nbytes += size(chunk)
            if chunks >= check:
                check = meter.read(chunks, nbytes)
            yield chunk
    except GeneratorExit:
        # aclose(), or finalized by the loop's async-generator hooks / the collector (already
        # `gc` by then, normally)
        meter.closed(chunks, nbytes)
        raise
    except BaseException as exc:
        meter.ended(chunks, nbytes, exc)
        raise
    meter.ended(chunks, nbytes, None)


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

    Returns a `TrackedStream` or `AsyncTrackedStream` (async when `source` has `__aiter__`);
    iterate it once. `size(chunk)` gives a chunk's byte count (default `chunk_size`).
    """
    is_async = hasattr(source, "__aiter__")
    if not is_async and not hasattr(source, "__iter__"):
        raise TypeError(f"track_stream() needs an iterable or async iterable, got {type(source).__qualname__}")
    rec = recorder if recorder is not None else current_recorder()
    name = label or getattr(source, "__qualname__", None) or getattr(source, "__name__", None)
    if not name:
        code = getattr(source, "gi_code", None) or getattr(source, "ag_code", None)
        name = code.co_qualname if code is not None else type(source).__qualname__
    rec.make_room()
    t = perf_counter_ns()
    try:
        lid = _lc.acquire(rec, "stream", str(name), _lc._user_frame(1), t)
    except Exception:
        log.exception("withscope: could not record a stream")
        lid = -1
    state = _State(rec, lid)
    interval_ns = max(0, int(interval_s * 1e9))
    if is_async:
        return AsyncTrackedStream(source, state, interval_ns, size)  # type: ignore[arg-type]
    return TrackedStream(source, state, interval_ns, size)  # type: ignore[arg-type]

