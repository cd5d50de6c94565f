"""Which recorder a `track` records into: the active one (threads and tasks started inside a
`with Recorder()` block included), an explicit one, or the process-wide default."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from core_cms import AScripted, Scripted
from withscope.core import Recorder, current_recorder, default_recorder, track


def test_a_thread_started_inside_the_block_records_into_it() -> None:
    # GIVEN an active recorder
    with Recorder() as rec:
        # WHEN a thread started inside uses track()
        def work() -> None:
            with track(Scripted([], "t"), label="in-thread"):
                pass

        t = threading.Thread(target=work, name="worker-1")
        t.start()
        t.join()
    # THEN its lifetime is in that recorder, with the thread's name
    (lt,) = rec.lifetimes()
    assert (lt.label, lt.thread, lt.task) == ("in-thread", "worker-1", None)


def test_a_pool_thread_records_into_the_active_recorder() -> None:
    def work(i: int) -> None:
        with track(Scripted([], str(i)), label=f"p{i}"):
            pass

    with Recorder() as rec, ThreadPoolExecutor(2, thread_name_prefix="pool") as pool:
        list(pool.map(work, range(4)))
    assert sorted(lt.label for lt in rec.lifetimes()) == ["p0", "p1", "p2", "p3"]
    assert all(lt.thread.startswith("pool") for lt in rec.lifetimes())


def test_tasks_record_into_the_recorder_of_the_context_they_started_in() -> None:
    # GIVEN two tasks, each running its own `with Recorder()` at the same time
    async def worker(name: str, started: asyncio.Event, other: asyncio.Event) -> Recorder:
        with Recorder(name=name) as rec:
            started.set()
            await other.wait()  # both recorders are active now, interleaved
            child = asyncio.create_task(child_work(name), name=f"{name}-child")
            async with track(AScripted([], name), label=name):
                await child
            return rec

    async def child_work(name: str) -> None:
        with track(Scripted([], name), label=f"{name}-child"):
            await asyncio.sleep(0)

    async def main() -> tuple[Recorder, Recorder]:
        ea, eb = asyncio.Event(), asyncio.Event()
        ta = asyncio.create_task(worker("a", ea, eb), name="a")
        tb = asyncio.create_task(worker("b", eb, ea), name="b")
        return await ta, await tb

    ra, rb = asyncio.run(main())
    # THEN each recorder holds exactly its own task's lifetimes and its child task's
    assert sorted(lt.label for lt in ra.lifetimes()) == ["a", "a-child"]
    assert sorted(lt.label for lt in rb.lifetimes()) == ["b", "b-child"]
    assert {lt.label: lt.task for lt in ra.lifetimes()} == {"a": "a", "a-child": "a-child"}


def test_asyncio_run_inside_the_block_records_into_it() -> None:
    async def main() -> None:
        async with track(asyncio.Lock(), label="run"):
            pass

    with Recorder() as rec:
        asyncio.run(main())
    assert [lt.label for lt in rec.lifetimes()] == ["run"]


def test_outside_any_block_records_go_to_the_default_recorder() -> None:
    # GIVEN no active recorder
    assert current_recorder() is default_recorder()
    label = f"default-{uuid.uuid4()}"
    # WHEN something is tracked
    with track(Scripted([], "d"), label=label):
        pass
    # THEN the process-wide default recorder has it
    assert [lt.label for lt in default_recorder().lifetimes() if lt.label == label] == [label]


def test_nested_recorders_stack_and_unwind() -> None:
    with Recorder() as outer:
        with Recorder() as inner:
            assert current_recorder() is inner
            with track(Scripted([], "i"), label="inner"):
                pass
        assert current_recorder() is outer
        with track(Scripted([], "o"), label="outer"):
            pass
    assert [lt.label for lt in inner.lifetimes()] == ["inner"]
    assert [lt.label for lt in outer.lifetimes()] == ["outer"]


def test_an_explicit_recorder_wins_over_the_active_one() -> None:
    explicit = Recorder()
    with Recorder() as active, track(Scripted([], "e"), label="e", recorder=explicit):
        pass
    assert active.lifetimes() == []
    assert [lt.label for lt in explicit.lifetimes()] == ["e"]


def test_marks_are_recorded_in_order() -> None:
    rec = Recorder()
    rec.mark("run 1 started")
    rec.mark("run 1 ended")
    marks = rec.marks()
    assert [m.text for m in marks] == ["run 1 started", "run 1 ended"]
    assert marks[0].t_ns <= marks[1].t_ns
    assert rec.t0_ns <= marks[0].t_ns
    assert rec.wall_t0 > 0
