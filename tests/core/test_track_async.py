"""`async with track(cm)`: the async twin of test_track_sync, plus cancellation, timeouts and
TaskGroup (CancelledError is never swallowed: that would break asyncio.timeout and TaskGroup).
Each test drives its own loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from core_cms import AResource, AScripted, Boom, EnterBoom, ExitBoom, shape
from withscope.core import Outcome, Recorder, track

CANCELLED = "asyncio.exceptions.CancelledError"


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        return await coro_fn()

    return asyncio.run(main())


def test_normal_exit_records_one_released_lifetime(rec: Recorder) -> None:
    log: list[Any] = []

    async def body() -> Any:
        async with track(AScripted(log, "a"), label="a") as value:
            return value, rec.open_lifetimes()

    value, inside = run(body)
    assert value == "value-a"
    assert [lt.label for lt in inside] == ["a"]
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.task is not None  # recorded inside a task
    assert log == [("enter", "a"), ("exit", "a", None)]


def test_unhandled_body_exception_propagates_unchanged(rec: Recorder) -> None:
    err = Boom("body")

    async def body() -> None:
        async with track(AScripted([], "a")):
            raise err

    with pytest.raises(Boom) as info:
        run(body)
    assert info.value is err
    assert info.value.__context__ is None
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error == "Boom: body"


def test_exception_handled_inside_the_block_is_a_clean_release(rec: Recorder) -> None:
    async def body() -> None:
        async with track(AScripted([], "a")):
            try:
                raise Boom("caught")
            except Boom:
                pass

    run(body)
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED


def test_handle_returns_the_wrapped_aexit_return_value_itself(rec: Recorder) -> None:
    sentinel = object()

    class Suppressing:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *exc: object) -> object:
            return sentinel

    async def body() -> Any:
        handle = track(Suppressing())
        await handle.__aenter__()
        return await handle.__aexit__(Boom, Boom("x"), None)

    assert run(body) is sentinel
    (lt,) = rec.lifetimes()
    assert lt.suppressed is True


def test_suppression_by_truthy_aexit_swallows_like_bare(rec: Recorder) -> None:
    async def body() -> str:
        async with track(AScripted([], "a", exit_mode="suppress"), suppresses=(Boom,)):
            raise Boom("swallowed")
        return "after"

    assert run(body) == "after"
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.suppressed is True
    assert lt.suppression_declared is True


@pytest.mark.parametrize("mode", ["raise", "raise_from"])
def test_aexit_raising_keeps_the_chain_as_bare(rec: Recorder, mode: str) -> None:
    async def body(wrap: Any) -> Any:
        try:
            async with wrap(AScripted([], "a", exit_mode=mode)):
                raise Boom("body")
        except BaseException as exc:
            return shape(exc)

    bare = run(lambda: body(lambda cm: cm))
    tracked = run(lambda: body(track))
    assert tracked == bare
    assert tracked[0] == "ExitBoom"
    assert tracked[2][0] == "Boom"  # __context__ is the body's exception
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.EXIT_RAISED
    assert lt.error_type == "core_cms.ExitBoom"


def test_failing_aenter_acquires_nothing_in_context_mode(rec: Recorder) -> None:
    log: list[Any] = []

    async def body() -> None:
        async with track(AScripted(log, "a", enter_raises=True)):
            pytest.fail("the body must not run")

    with pytest.raises(EnterBoom):
        run(body)
    assert rec.lifetimes() == []
    assert log == [("enter", "a")]


def test_failing_first_aenter_withdraws_an_async_resource(rec: Recorder) -> None:
    async def body() -> Any:
        handle = track(AResource(enter_fails=True))
        held = len(rec.open_lifetimes())
        with contextlib.suppress(EnterBoom):
            async with handle:
                pytest.fail("the body must not run")
        return held

    assert run(body) == 1  # acquired when tracked ...
    assert rec.lifetimes() == []  # ... and withdrawn when its enter failed


def test_reentrant_async_manager_entered_twice_gives_two_nested_lifetimes(rec: Recorder) -> None:
    class Reentrant:
        depth = 0

        async def __aenter__(self) -> int:
            self.depth += 1
            return self.depth

        async def __aexit__(self, *exc: object) -> None:
            self.depth -= 1

    async def body() -> None:
        handle = track(Reentrant())
        async with handle as d1, handle as d2:
            assert (d1, d2) == (1, 2)

    run(body)
    outer, inner = rec.lifetimes()
    assert outer.released_ns is not None
    assert inner.released_ns is not None
    assert outer.acquired_ns <= inner.acquired_ns <= inner.released_ns <= outer.released_ns


@contextlib.asynccontextmanager
async def once() -> AsyncIterator[str]:
    yield "once"


def test_non_reentrant_async_generator_manager_entered_twice_raises_as_bare(rec: Recorder) -> None:
    async def body(wrap: Any) -> Any:
        cm = wrap(once())
        try:
            async with cm, cm:
                pass
        except BaseException as exc:
            return shape(exc)
        raise AssertionError("must fail")

    bare = run(lambda: body(lambda cm: cm))
    assert run(lambda: body(track)) == bare
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR


def test_aexit_before_aenter_behaves_as_bare_and_records_nothing(rec: Recorder) -> None:
    async def body(wrap: Any, make: Any) -> Any:
        cm = wrap(make())
        try:
            return ("returned", await cm.__aexit__(None, None, None))
        except BaseException as exc:
            return ("raised", shape(exc))

    for make in (lambda: AScripted([], "a"), once, asyncio.Lock):
        assert run(functools.partial(body, track, make)) == run(functools.partial(body, lambda cm: cm, make))
    assert rec.lifetimes() == []


def test_async_generator_managers_that_misbehave_raise_runtime_error(rec: Recorder) -> None:
    @contextlib.asynccontextmanager
    async def never() -> AsyncIterator[None]:
        if False:
            yield

    @contextlib.asynccontextmanager
    async def twice() -> AsyncIterator[None]:
        yield
        yield

    async def enter_never() -> None:
        async with track(never()):
            pass

    async def enter_twice() -> None:
        async with track(twice(), label="twice"):
            pass

    with pytest.raises(RuntimeError, match="generator didn't yield"):
        run(enter_never)
    with pytest.raises(RuntimeError, match="generator didn't stop"):
        run(enter_twice)
    (lt,) = rec.lifetimes()
    assert lt.label == "twice"
    assert lt.outcome is Outcome.EXIT_RAISED


def test_cancelled_body_records_cancelled_error_and_the_task_stays_cancelled(rec: Recorder) -> None:
    log: list[Any] = []

    async def body() -> None:
        async with track(AScripted(log, "a")):
            await asyncio.sleep(3600)

    async def main() -> bool:
        task = asyncio.create_task(body())
        await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main) is True
    assert log[-1] == ("exit", "a", "CancelledError")
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == CANCELLED


class SlowExit:
    """`__aexit__` awaits for a long time: a second cancel interrupts it."""

    def __init__(self, log: list[str], started: asyncio.Event) -> None:
        self.log = log
        self.started = started

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        self.log.append("aexit started")
        self.started.set()
        await asyncio.sleep(3600)
        self.log.append("aexit finished")


def test_cancel_twice_while_aexit_awaits_interrupts_the_exit_as_bare(rec: Recorder) -> None:
    async def scenario(wrap: Any) -> tuple[list[str], bool]:
        log: list[str] = []
        started = asyncio.Event()

        async def body() -> None:
            async with wrap(SlowExit(log, started)):
                await asyncio.sleep(3600)

        task = asyncio.create_task(body())
        await asyncio.sleep(0.01)
        task.cancel()  # the body gets CancelledError; __aexit__ starts awaiting
        await started.wait()
        await asyncio.sleep(0.01)
        task.cancel()  # the second cancel interrupts __aexit__
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return log, task.cancelled()

    bare = run(lambda: scenario(lambda cm: cm))
    tracked = run(lambda: scenario(track))
    assert tracked == bare == (["aexit started"], True)
    (lt,) = rec.lifetimes()
    # The exit did not complete: it raised a CancelledError of its own.
    assert lt.outcome is Outcome.EXIT_RAISED
    assert lt.error_type == CANCELLED


def test_timeout_around_the_block_is_a_cancelled_release_and_timeout_outside(rec: Recorder) -> None:
    async def body() -> None:
        async with asyncio.timeout(0.01), track(AScripted([], "a")):
            await asyncio.sleep(3600)

    with pytest.raises(TimeoutError) as info:
        run(body)
    assert isinstance(info.value.__context__, asyncio.CancelledError)
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == CANCELLED


def test_a_failing_taskgroup_sibling_cancels_the_tracked_block_as_bare(rec: Recorder) -> None:
    async def scenario(wrap: Any) -> Any:
        async def holder() -> None:
            async with wrap(AScripted([], "holder")):
                await asyncio.sleep(3600)

        async def failing() -> None:
            await asyncio.sleep(0.01)
            raise Boom("sibling")

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(holder())
                tg.create_task(failing())
        except BaseException as exc:
            return shape(exc)
        raise AssertionError("the group must fail")

    bare = run(lambda: scenario(lambda cm: cm))
    assert run(lambda: scenario(track)) == bare
    assert bare[0] == "ExceptionGroup"
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == CANCELLED


def test_keyboard_interrupt_in_an_async_body_passes_through(rec: Recorder) -> None:
    log: list[Any] = []

    async def body() -> None:
        async with track(AScripted(log, "a")):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(body)
    assert log[-1] == ("exit", "a", "KeyboardInterrupt")
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == "builtins.KeyboardInterrupt"


def test_one_handle_shared_by_tasks_pairs_each_exit_with_its_own_entry(rec: Recorder) -> None:
    # GIVEN one tracked semaphore entered by two tasks that overlap: a enters, b enters, a exits
    async def main() -> None:
        sem = track(asyncio.Semaphore(2))
        a_in, b_in, a_may_exit = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def a() -> None:
            async with sem:
                a_in.set()
                await a_may_exit.wait()

        async def b() -> None:
            await a_in.wait()
            async with sem:
                b_in.set()
                await asyncio.sleep(0.02)

        ta = asyncio.create_task(a(), name="task-a")
        tb = asyncio.create_task(b(), name="task-b")
        await b_in.wait()
        a_may_exit.set()
        await asyncio.gather(ta, tb)

    run(main)
    # THEN each task's lifetime ends when that task leaves the block (not the other's)
    lts = {lt.task: lt for lt in rec.lifetimes()}
    a, b = lts["task-a"], lts["task-b"]
    assert a.released_ns is not None
    assert b.released_ns is not None
    assert a.acquired_ns < b.acquired_ns < a.released_ns < b.released_ns


def test_object_without_the_async_protocol_raises_the_bare_type_error(rec: Recorder) -> None:
    class SyncOnly:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            return None

    async def body(wrap: Any) -> Any:
        try:
            async with wrap(SyncOnly()):
                pass
        except TypeError as exc:
            return shape(exc)
        raise AssertionError("no TypeError")

    assert run(lambda: body(track)) == run(lambda: body(lambda o: o))
    assert rec.lifetimes() == []


def test_exit_raised_in_aexit_without_body_error(rec: Recorder) -> None:
    async def body() -> None:
        async with track(AScripted([], "a", exit_mode="raise")):
            pass

    with pytest.raises(ExitBoom):
        run(body)
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.EXIT_RAISED
