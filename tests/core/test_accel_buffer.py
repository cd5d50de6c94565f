"""The recorder's pending-event buffer and the running-loop cache of the C accelerator
(core/_speedups.c: `EventBuf`, `running_loop`). On the pure-Python path the buffer is a deque and
these tests check the same behaviour of it, so both paths are held to one contract."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
from collections import deque
from collections.abc import Generator
from typing import Any

import pytest
from accel_scenario import ACM
from withscope.core import Recorder, track
from withscope.core._accel import speedups

ACQUIRE, RELEASE = 0, 1


def make_buffer() -> Any:
    return Recorder()._buf


class CM:
    def __enter__(self) -> CM:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_the_buffer_is_the_accelerators_when_it_is_built() -> None:
    buf = make_buffer()
    if speedups is None:
        assert isinstance(buf, deque)
    else:
        assert type(buf) is speedups.EventBuf


def test_hot_path_records_and_appended_events_keep_their_order() -> None:
    # GIVEN a recorder whose hot path records two with blocks around two appended events
    rec = Recorder()
    with track(CM(), recorder=rec):
        rec.mark("inside")
    rec._buf.append(("custom", 1))
    with track(CM(), recorder=rec):
        pass
    # THEN the raw events come out in order, as the tuples the pure-Python path appends
    raw = list(rec._buf)
    assert [ev[0] for ev in raw] == [ACQUIRE, 4, RELEASE, "custom", ACQUIRE, RELEASE]  # 4: MARK
    acq = raw[0]
    assert len(acq) == 8
    assert acq[1] == 0
    assert isinstance(acq[2], int)
    assert acq[4] is sys._getframe().f_code  # the site's code object
    assert acq[7] is None  # no task
    assert raw[2] == (RELEASE, 0, raw[2][2])
    assert raw[2][2] >= acq[2]
    # AND iterating leaves them pending; popleft takes the oldest
    assert len(rec._buf) == 6
    assert rec._buf.popleft() == acq
    assert len(rec._buf) == 5
    # AND the fold sees the same events: two clean lifetimes and the mark
    batch = rec.drain()
    assert batch.events == 5
    assert len(rec._buf) == 0
    assert [str(lt.outcome) for lt in rec.lifetimes()] == ["released"]  # the first ACQUIRE was popped above
    assert [m.text for m in rec.marks()] == ["inside"]


def test_take_and_clear() -> None:
    buf = make_buffer()
    if not hasattr(buf, "take"):
        pytest.skip("the deque of the pure-Python path has no take()")
    for i in range(5):
        buf.append((9, i))
    assert buf.take(2) == [(9, 0), (9, 1)]
    assert buf.take(0) == []
    assert buf.take(-3) == []
    assert buf.take(None) == [(9, 2), (9, 3), (9, 4)]
    assert buf.take() == []
    assert len(buf) == 0
    assert not buf
    buf.append((9, 5))
    buf.clear()
    assert len(buf) == 0
    with pytest.raises(IndexError):
        buf.popleft()


def test_the_buffer_grows_past_its_first_block_and_wraps() -> None:
    # GIVEN more events than the first allocation, taken in pieces so the ring wraps around
    buf = make_buffer()
    taken: list[Any] = []
    n = 0
    for _ in range(6):
        for _ in range(700):
            buf.append((9, n))
            n += 1
        taken += [buf.popleft() for _ in range(500)]
    taken += list(buf)
    # THEN every event comes out once, in order
    assert [ev[1] for ev in taken] == list(range(n))


def test_an_emptied_buffer_keeps_a_small_ring_and_frees_a_large_one() -> None:
    buf = make_buffer()
    if not hasattr(buf, "take"):
        pytest.skip("the deque of the pure-Python path frees its blocks as it empties")
    empty = sys.getsizeof(buf)
    # GIVEN a burst that fits the retained size: emptying keeps the ring (refilling is then free of
    # page faults)
    for i in range(100_000):
        buf.append((9, i))
    small = sys.getsizeof(buf)
    assert small > empty + 100_000 * 48
    buf.clear()
    assert sys.getsizeof(buf) == small
    # AND a burst beyond it is given back when taken
    for i in range(1_000_000):
        buf.append((9, i))
    assert sys.getsizeof(buf) > 32 << 20
    assert len(buf.take()) == 1_000_000
    assert sys.getsizeof(buf) == empty


def test_emptied_rings_share_one_retention_budget() -> None:
    # GIVEN six buffers each emptied after a burst of 100,000 events (7 MiB of ring each)
    bufs = [make_buffer() for _ in range(6)]
    if not hasattr(bufs[0], "take"):
        pytest.skip("the deque of the pure-Python path frees its blocks as it empties")
    empty = sys.getsizeof(bufs[0])
    for buf in bufs:
        for i in range(100_000):
            buf.append((9, i))
        buf.take()
    # THEN together they keep at most 32 MiB (the rest was given back)
    kept = sum(sys.getsizeof(b) - empty for b in bufs)
    assert 0 < kept <= 32 << 20


def test_a_gc_callback_never_sees_a_half_filled_batch() -> None:
    # GIVEN pending events and a gc callback that walks every list (what memory monitors do)
    rec = Recorder(capacity=10**9)
    for _ in range(5000):
        with track(CM(), recorder=rec):
            pass
    walked = []

    def monitor(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            walked.append(sum(len(list(o)) for o in gc.get_objects() if type(o) is list))

    gc.callbacks.append(monitor)
    old = gc.get_threshold()
    gc.set_threshold(100)
    try:
        # WHEN the drain turns 10,000 records into tuples (collections start meanwhile)
        batch = rec.drain()
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(monitor)
    # THEN it did not crash, the monitor ran, and every event was folded
    assert walked
    assert batch.events == 10_000


def test_the_running_loop_is_not_kept_alive() -> None:
    # GIVEN a loop a tracked with ran in, never closed, then dropped
    import warnings
    import weakref

    rec = Recorder()
    loop = asyncio.new_event_loop()

    async def main() -> None:
        with track(CM(), recorder=rec):
            pass

    loop.run_until_complete(main())
    ref = weakref.ref(loop)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del loop
        gc.collect()
    # THEN it is collected and asyncio's "unclosed event loop" warning is not hidden
    assert ref() is None
    assert any(issubclass(w.category, ResourceWarning) for w in caught)


def test_the_current_tasks_dict_is_asyncios_own() -> None:
    from withscope.core import track as _  # noqa: F401  (the module is loaded)

    track_module = sys.modules["withscope.core.track"]
    tasks = track_module._asyncio_current_tasks()
    try:
        import _asyncio
    except ImportError:
        assert tasks is None
        return
    assert tasks is None or tasks is _asyncio._current_tasks  # type: ignore[attr-defined]  # private, not in typeshed


class _AppendsWhenCollected:
    """An object whose finalizer appends to a buffer, as an armed handle's `__del__` does."""

    def __init__(self, buf: Any) -> None:
        self.buf = buf
        self.me = self  # a cycle: only the garbage collector frees it

    def __del__(self) -> None:
        for i in range(3000):  # enough to make the ring grow while it is being read
            self.buf.append(("late", i))


def test_a_finalizer_that_appends_while_the_events_are_taken() -> None:
    # GIVEN pending hot-path events and garbage whose finalizer appends (run by a collection that
    # tuple allocations inside the drain may trigger)
    rec = Recorder()
    for _ in range(2000):
        with track(CM(), recorder=rec):
            pass
    _AppendsWhenCollected(rec._buf)
    old = gc.get_threshold()
    gc.set_threshold(1)  # collect at almost every allocation
    try:
        first = rec._buf.take(4000) if hasattr(rec._buf, "take") else [rec._buf.popleft() for _ in range(4000)]
    finally:
        gc.set_threshold(*old)
    gc.collect()
    rest = list(rec._buf)
    # THEN the first events are the 4000 records in order and the late ones are all kept after them
    assert [ev[0] for ev in first] == [ACQUIRE, RELEASE] * 2000
    assert [ev[1] for ev in first[::2]] == list(range(2000))
    assert sorted(ev[1] for ev in rest) == list(range(3000))


def test_buffer_references_are_released() -> None:
    # GIVEN a code object's function that records, and a buffer holding its events
    import weakref

    class Spec:
        pass

    rec = Recorder()
    payload = Spec()
    ref = weakref.ref(payload)
    rec._buf.append(("held", payload))
    del payload
    assert ref() is not None
    # WHEN the events are dropped
    rec._buf.clear()
    # THEN nothing keeps them
    assert ref() is None


# ------------------------------------------------------------------------ running-loop cache
def _task_names(rec: Recorder) -> list[str | None]:
    rec.drain()
    return [lt.task for lt in rec.lifetimes()]


def test_task_names_across_loops_and_threads() -> None:
    # GIVEN async with blocks in tasks of two loops run one after the other, a sync with between
    # them (no loop), and a loop in another thread
    rec = Recorder()

    async def body(name: str) -> None:
        async def inner() -> None:
            async with track(ACM(), recorder=rec):
                pass
            with track(CM(), recorder=rec):
                pass

        await asyncio.create_task(inner(), name=name)

    asyncio.run(body("first"))
    with track(CM(), recorder=rec):
        pass
    asyncio.run(body("second"))
    t = threading.Thread(target=lambda: asyncio.run(body("thread")))
    t.start()
    t.join()
    asyncio.run(body("third"))

    def plain() -> None:  # a thread where no loop ever ran
        with track(CM(), recorder=rec):
            pass

    t = threading.Thread(target=plain)
    t.start()
    t.join()
    # THEN every entry carries the task it ran in (none for those outside any loop)
    assert _task_names(rec) == [
        "first", "first", None, "second", "second", "thread", "thread", "third", "third", None,
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_see_its_parents_loop() -> None:
    # GIVEN a running loop whose task recorded once (so the C path has cached the loop)
    rec = Recorder()

    r, w = os.pipe()

    async def main() -> int:
        with track(CM(), recorder=rec):
            pass
        pid = os.fork()
        if pid == 0:  # the child: asyncio reports no running loop here; neither may withscope
            try:
                child = Recorder()
                with track(CM(), recorder=child):
                    pass
                child.drain()
                ok = child.lifetimes()[0].task is None and asyncio._get_running_loop() is None
                os.write(w, b"1" if ok else b"0")
            finally:
                os._exit(0)
        return pid

    pid = asyncio.run(main())
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == b"1"
    assert _task_names(rec)[0] is not None


def test_a_recorder_is_not_kept_alive_by_the_hot_path() -> None:
    # GIVEN a recorder the hot path recorded into (the C path keeps its `_hot` list while it lives)
    rec = Recorder()
    with track(CM(), recorder=rec):
        pass
    hot = rec._hot
    # WHEN the recorder goes
    del rec
    gc.collect()
    # THEN nothing but this test holds its hot list any more
    assert sys.getrefcount(hot) == 2


def test_task_names_follow_renames_and_overrides() -> None:
    # GIVEN a task renamed before its entry, and a Task subclass with its own get_name
    rec = Recorder()

    class Named(asyncio.Task):  # type: ignore[type-arg]
        def get_name(self) -> str:
            return "custom:" + super().get_name()

    async def enter() -> None:
        async with track(ACM(), recorder=rec):
            pass

    async def main() -> None:
        t = asyncio.create_task(enter(), name="before")
        t.set_name("after")
        await t
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda lp, coro, **kw: Named(coro, loop=lp, **kw))
        await asyncio.create_task(enter(), name="sub")

    asyncio.run(main())
    # THEN each entry has the name the task had at that moment, as get_name() gives it
    assert _task_names(rec) == ["after", "custom:sub"]


def test_a_generator_based_coroutine_aenter_works_tracked() -> None:
    # GIVEN an async manager whose __aenter__/__aexit__ are @types.coroutine generators
    import types

    class OldStyle:
        @types.coroutine
        def __aenter__(self) -> Generator[Any, None, str]:
            yield from asyncio.sleep(0).__await__()
            return "entered"

        @types.coroutine
        def __aexit__(self, *exc: object) -> Generator[Any, None, None]:
            yield from asyncio.sleep(0).__await__()
            return None

    rec = Recorder()

    async def main() -> object:
        async with track(OldStyle(), recorder=rec) as value:
            return value

    # THEN it works as it does bare, and is recorded
    assert asyncio.run(main()) == "entered"
    rec.drain()
    assert [str(lt.outcome) for lt in rec.lifetimes()] == ["released"]
