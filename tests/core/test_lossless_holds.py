"""A lossless recorder's back-pressure never falls inside a lifetime: a producer that finds the
buffer full relieves it (drains a chunk itself) *before* it reads the clock for its acquisition,
so an empty block is recorded as held for the block, not for the drain it had to wait for.

The drains here are made slow on purpose (a subscriber that sleeps, as a slow recording writer or
a slow parent would); each drain's interval is noted, and no lifetime may overlap one made on its
own thread. That is where the wait sits, whatever the machine's speed. Run with
WITHSCOPE_PURE_PYTHON=1 too (the suite runs tests/core on both hot paths)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from withscope.core import Recorder, track, tracked
from withscope.core.recorder import Batch

N = 120


class _CM:
    def __enter__(self) -> _CM:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _ACM:
    async def __aenter__(self) -> _ACM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@tracked(kind="lock", label="decorated")
class _Decorated:
    def __enter__(self) -> _Decorated:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _slow_recorder() -> tuple[Recorder, list[tuple[int, int, int]]]:
    """A lossless recorder with a tiny buffer whose every drain takes 5 ms or more."""
    rec = Recorder(capacity=4)
    rec.lossless = True
    drains: list[tuple[int, int, int]] = []

    def slow(batch: Batch) -> None:
        t0 = time.perf_counter_ns()
        time.sleep(0.005)
        drains.append((threading.get_ident(), t0, time.perf_counter_ns()))

    rec.subscribe(slow)
    return rec, drains


def _assert_no_drain_inside_a_lifetime(rec: Recorder, drains: list[tuple[int, int, int]], me: int) -> None:
    mine = [(t0, t1) for tid, t0, t1 in drains if tid == me]
    lifetimes = rec.lifetimes()
    assert len(lifetimes) == N
    assert rec.dropped == 0
    assert rec.relieved >= N // 8  # the producer did relieve the buffer, many times
    assert len(mine) >= N // 8
    for lt in lifetimes:
        assert lt.released_ns is not None
        inside = [(t0, t1) for t0, t1 in mine if t0 < lt.released_ns and t1 > lt.acquired_ns]
        assert not inside, f"lifetime {lt.id} ({lt.acquired_ns}..{lt.released_ns}) overlaps drains {inside}"


def test_a_with_block_never_holds_the_producer_s_own_drain() -> None:
    # GIVEN a lossless recorder that is always full and slow to drain
    rec, drains = _slow_recorder()
    # WHEN a thread makes empty tracked blocks
    with rec:
        for _ in range(N):
            with track(_CM()):
                pass
    # THEN every drain it made (the waits) lies between lifetimes, never inside one
    _assert_no_drain_inside_a_lifetime(rec, drains, threading.get_ident())


def test_an_async_with_block_never_holds_the_producer_s_own_drain() -> None:
    rec, drains = _slow_recorder()

    async def blocks() -> None:
        for _ in range(N):
            async with track(_ACM()):
                pass

    with rec:
        asyncio.run(blocks())
    _assert_no_drain_inside_a_lifetime(rec, drains, threading.get_ident())


def test_a_tracked_class_and_a_resource_never_hold_the_producer_s_own_drain(tmp_path: Any) -> None:
    rec, drains = _slow_recorder()
    path = tmp_path / "f.txt"
    path.write_text("x")
    with rec:
        for i in range(N):
            if i % 2:
                with _Decorated():
                    pass
            else:
                with track(open(path)):  # resource mode: acquired by track(), released by the exit
                    pass
    _assert_no_drain_inside_a_lifetime(rec, drains, threading.get_ident())


def test_growing_the_table_never_holds_the_gil_for_a_whole_column() -> None:
    # GIVEN a table column that records the size of every extend (one C call each, GIL held)
    from array import array

    from withscope.core.lifetime_table import GROW_STEP, LifetimeTable

    sizes: list[int] = []

    class Spy(array):  # type: ignore[type-arg]
        def extend(self, values: Any) -> None:
            sizes.append(len(values))
            super().extend(values)

    table = LifetimeTable()
    table.acquired_ns = Spy("q")
    # WHEN the table grows by far more than one step (a drain beside the observed threads: at
    # 10 M lifetimes one doubling of a column in one call held the GIL ~75 ms)
    table.grow(5 * GROW_STEP + 7)
    # THEN it grew in steps, and every column is as long as the others
    assert max(sizes) <= GROW_STEP
    assert sum(sizes) == 5 * GROW_STEP + 7
    assert {len(c) for c in (table.acquired_ns, table.released_ns, table.outcome, table.task)} == {5 * GROW_STEP + 7}
    assert table.released_ns[-1] == -1
