"""`track_stream`: the same chunks come out; time to first chunk, chunk and byte counts, a
throughput series; early stops close the source; abandoned streams end with `gc`."""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from core_cms import Boom
from withscope.core import AsyncTrackedStream, Outcome, Recorder, StreamStats, TrackedStream, track_stream

FIRST_S = 0.05
GAP_S = 0.02
CHUNKS = [b"a" * 10, b"b" * 20, b"c" * 30, b"d" * 40, b"e" * 50]
MS = 1_000_000


def slow_chunks(log: list[str] | None = None) -> Iterator[bytes]:
    """5 chunks, the first after 50 ms, then 20 ms apart (known delays: the workload)."""
    try:
        time.sleep(FIRST_S)
        for i, chunk in enumerate(CHUNKS):
            if i:
                time.sleep(GAP_S)
            yield chunk
    finally:
        if log is not None:
            log.append("source closed")


async def aslow_chunks(log: list[str] | None = None) -> AsyncIterator[bytes]:
    try:
        await asyncio.sleep(FIRST_S)
        for i, chunk in enumerate(CHUNKS):
            if i:
                await asyncio.sleep(GAP_S)
            yield chunk
    finally:
        if log is not None:
            log.append("source closed")


def check_full_stream(st: StreamStats) -> None:
    assert st.chunks == len(CHUNKS)
    assert st.bytes == sum(map(len, CHUNKS))
    assert st.ended is True
    ttfb = st.ttfb_ns
    assert ttfb is not None
    # Generous tolerance: at least the delay, less than the delay + 200 ms.
    assert FIRST_S * 1e9 <= ttfb < (FIRST_S + 0.2) * 1e9
    assert st.duration_ns >= (FIRST_S + 4 * GAP_S) * 1e9
    assert st.throughput_bps > 0
    # A series a plot can draw: increasing times, finite non-negative rates, ending at the totals.
    rates = st.rates()
    assert len(rates) >= 2
    times = [t for t, _, _ in rates]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert all(math.isfinite(b) and b >= 0 and math.isfinite(c) and c >= 0 for _, b, c in rates)
    assert st.series[-1][1:] == (len(CHUNKS), sum(map(len, CHUNKS)))


def test_a_sync_stream_with_known_delays(rec: Recorder) -> None:
    # GIVEN a generator with known delays, WHEN consumed through track_stream
    stream = track_stream(slow_chunks(), label="download")
    assert isinstance(stream, TrackedStream)
    got = list(stream)
    # THEN the same chunk objects came out, and the metrics match the delays and sizes
    assert got == CHUNKS
    assert all(a is b for a, b in zip(got, CHUNKS, strict=True))
    (st,) = rec.streams()
    assert st.label == "download"
    check_full_stream(st)
    (lt,) = rec.lifetimes()
    assert (lt.kind, lt.outcome) == ("stream", Outcome.RELEASED)


def test_an_async_stream_with_known_delays(rec: Recorder) -> None:
    async def main() -> list[bytes]:
        stream = track_stream(aslow_chunks())
        assert isinstance(stream, AsyncTrackedStream)
        return [chunk async for chunk in stream]

    assert asyncio.run(main()) == CHUNKS
    (st,) = rec.streams()
    assert st.label == "aslow_chunks"
    check_full_stream(st)
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED


def test_async_early_stop_in_async_with_closes_the_source(rec: Recorder) -> None:
    log: list[str] = []

    async def main() -> list[bytes]:
        got = []
        async with track_stream(aslow_chunks(log)) as s:
            async for chunk in s:
                got.append(chunk)
                break
        log.append("after block")  # the source was closed before the block was left
        return got

    assert asyncio.run(main()) == CHUNKS[:1]
    assert log == ["source closed", "after block"]
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close is True
    (st,) = rec.streams()
    assert (st.chunks, st.bytes, st.ended) == (1, 10, True)


def test_sync_early_stop_in_with_closes_the_source(rec: Recorder) -> None:
    log: list[str] = []
    with track_stream(slow_chunks(log)) as s:
        for _ in s:
            break
    assert log == ["source closed"]
    (lt,) = rec.lifetimes()
    assert (lt.outcome, lt.released_by_close) == (Outcome.RELEASED, True)


def test_consumer_error_inside_with_is_recorded_with_the_error(rec: Recorder) -> None:
    def consume() -> None:
        with track_stream(iter([b"x", b"y"])) as s:
            for _ in s:
                raise Boom("consumer")

    with pytest.raises(Boom):
        consume()
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error == "Boom: consumer"


def test_a_sync_stream_dropped_midway_ends_with_gc_at_del(rec: Recorder) -> None:
    # GIVEN a consumer that stops early without closing
    log: list[str] = []
    s = track_stream(iter_source(log))
    for _ in s:
        break
    assert rec.lifetimes()[0].outcome is Outcome.OPEN
    # WHEN the stream is dropped
    del s
    # THEN it ends with gc at once, its counters are final, and the source was finalized
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.GC
    assert rec.streams()[0].chunks == 1
    assert log == ["source closed"]


def iter_source(log: list[str]) -> Iterator[bytes]:
    try:
        yield b"1"
        yield b"2"
    finally:
        log.append("source closed")


def test_an_async_stream_dropped_midway_ends_with_gc_and_the_loop_finalizes_the_source(rec: Recorder) -> None:
    # Under plain asyncio: the stream records `gc` when it dies; the loop's async-generator
    # hooks then schedule the source's aclose(), so its `finally` runs on a later loop turn.
    log: list[str] = []

    async def main() -> list[Any]:
        s = track_stream(aslow_chunks(log))
        async for _ in s:
            break
        assert rec.lifetimes()[0].outcome is Outcome.OPEN
        del s
        outcome_at_del = rec.lifetimes()[0].outcome
        for _ in range(100):  # poll with a bound: a few loop turns are enough
            if log:
                break
            await asyncio.sleep(0)
        return [outcome_at_del, list(log)]

    assert asyncio.run(main()) == [Outcome.GC, ["source closed"]]
    (st,) = rec.streams()
    assert (st.chunks, st.ended) == (1, True)


def test_a_stream_dropped_before_iterating_ends_with_gc(rec: Recorder) -> None:
    track_stream([b"never"], label="never iterated")
    s = track_stream([b"never"], label="iterator taken")
    it = iter(s)
    del s
    assert rec.lifetimes()[1].outcome is Outcome.OPEN  # the iterator still holds the stream
    del it
    gc.collect()
    assert [lt.outcome for lt in rec.lifetimes()] == [Outcome.GC, Outcome.GC]
    for st in rec.streams():
        assert st.first_chunk_ns is None
        assert st.ttfb_ns is None


def test_an_async_stream_dropped_before_iterating_ends_with_gc(rec: Recorder) -> None:
    async def main() -> Outcome:
        s = track_stream(aslow_chunks())
        del s
        return rec.lifetimes()[0].outcome

    assert asyncio.run(main()) is Outcome.GC


def test_a_temporary_stream_object_in_a_for_loop_does_not_end_the_stream(rec: Recorder) -> None:
    log: list[str] = []
    got = [chunk for chunk in track_stream(iter_source(log))]
    assert got == [b"1", b"2"]
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED
    assert rec.streams()[0].chunks == 2


def test_an_empty_stream_has_no_first_chunk(rec: Recorder) -> None:
    assert list(track_stream([])) == []
    (st,) = rec.streams()
    assert (st.chunks, st.bytes, st.first_chunk_ns, st.ended) == (0, 0, None, True)
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED


def test_a_source_that_raises_passes_the_error_through(rec: Recorder) -> None:
    err = Boom("source")

    def failing() -> Iterator[bytes]:
        yield b"ok"
        raise err

    with pytest.raises(Boom) as info:
        list(track_stream(failing()))
    assert info.value is err
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert rec.streams()[0].chunks == 1


def test_an_async_source_that_raises_passes_the_error_through(rec: Recorder) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"ok"
        raise Boom("async source")

    async def main() -> None:
        async for _ in track_stream(failing()):
            pass

    with pytest.raises(Boom, match="async source"):
        asyncio.run(main())
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED_WITH_ERROR


def test_explicit_close_and_aclose_release_once(rec: Recorder) -> None:
    log: list[str] = []
    s = track_stream(iter_source(log), label="sync")
    next(s)
    s.close()
    s.close()

    async def main() -> None:
        a = track_stream(aslow_chunks(log), label="async")
        await a.__anext__()
        await a.aclose()

    asyncio.run(main())
    assert log == ["source closed", "source closed"]
    assert [(lt.label, lt.outcome, lt.released_by_close) for lt in rec.lifetimes()] == [
        ("sync", Outcome.RELEASED, True),
        ("async", Outcome.RELEASED, True),
    ]


def test_chunk_sizes_of_common_chunk_types(rec: Recorder) -> None:
    chunks: list[Any] = [b"ab", bytearray(b"cde"), "fg", memoryview(b"hijk"), ("key", b"lmnop"), 42]
    assert list(track_stream(chunks, interval_s=0)) == chunks
    (st,) = rec.streams()
    assert (st.chunks, st.bytes) == (6, 2 + 3 + 2 + 4 + 5)


def test_a_custom_size_function(rec: Recorder) -> None:
    list(track_stream([[1, 2], [3]], size=len))
    assert rec.streams()[0].bytes == 3


def test_track_stream_refuses_a_non_iterable() -> None:
    with pytest.raises(TypeError, match="iterable"):
        track_stream(42)  # type: ignore[arg-type]
