"""`with track(cm)`: what the block sees, raises and suppresses is exactly what it would bare,
and the lifetime records how it ended (sync path)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from core_cms import Boom, EnterBoom, ExitBoom, Resource, Scripted, shape
from withscope.core import Outcome, Recorder, track


def test_normal_exit_records_one_released_lifetime(rec: Recorder) -> None:
    # GIVEN a manager that enters with a value
    log: list[Any] = []
    # WHEN it is used through track()
    with track(Scripted(log, "a"), label="a") as value:
        inside = rec.open_lifetimes()
    # THEN the block saw the manager's value, the lifetime was open inside and released after
    assert value == "value-a"
    assert [lt.label for lt in inside] == ["a"]
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.error is None
    assert lt.suppressed is False
    assert lt.released_ns is not None
    assert lt.acquired_ns <= lt.released_ns
    assert log == [("enter", "a"), ("exit", "a", None)]


def test_unhandled_body_exception_propagates_unchanged(rec: Recorder) -> None:
    # GIVEN a body that raises
    err = Boom("body")
    # WHEN the exception leaves the tracked block
    with pytest.raises(Boom) as info, track(Scripted([], "a")):
        raise err
    # THEN it is the very same exception, and the lifetime ended with that error
    assert info.value is err
    assert info.value.__context__ is None
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error == "Boom: body"
    assert lt.error_type == "core_cms.Boom"
    assert lt.suppressed is False


def test_exception_handled_inside_the_block_is_a_clean_release(rec: Recorder) -> None:
    # GIVEN a body that raises and catches its own error
    with track(Scripted([], "a")):
        try:
            raise Boom("caught")
        except Boom:
            pass
    # THEN the manager saw no exception: a plain release
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.error is None


def test_handle_returns_the_wrapped_exit_return_value_itself(rec: Recorder) -> None:
    # GIVEN a manager whose __exit__ returns a truthy non-bool object
    sentinel = object()

    class Suppressing:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> object:
            return sentinel

    handle = track(Suppressing())
    handle.__enter__()
    # WHEN its exit is called through the handle
    ret = handle.__exit__(Boom, Boom("x"), None)
    # THEN the handle hands back that very object, and the lifetime records the suppression
    assert ret is sentinel
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.suppressed is True
    assert lt.suppression_declared is False


def test_suppression_by_truthy_exit_swallows_like_bare(rec: Recorder) -> None:
    # GIVEN managers that suppress (one declared through `suppresses=`)
    after: list[str] = []
    # WHEN their bodies raise
    with track(Scripted([], "a", exit_mode="suppress"), label="a"):
        raise Boom("swallowed")
    after.append("a")
    with track(contextlib.suppress(KeyError), label="b", suppresses=(KeyError,)):
        raise KeyError("k")
    after.append("b")
    # THEN execution continues after each block, and the lifetimes say who swallowed what
    assert after == ["a", "b"]
    lts = {lt.label: lt for lt in rec.lifetimes()}
    assert lts["a"].suppressed is True
    assert lts["a"].suppression_declared is False
    assert lts["b"].suppressed is True
    assert lts["b"].suppression_declared is True
    assert lts["b"].error == "KeyError: 'k'"


def run_exit_raising(wrap: Any) -> tuple[BaseException, Boom]:
    body_err = Boom("body")
    try:
        with wrap(Scripted([], "a", exit_mode="raise")):
            raise body_err
    except BaseException as exc:
        return exc, body_err
    raise AssertionError("nothing raised")


def test_exit_raising_replaces_the_body_exception_and_keeps_the_chain(rec: Recorder) -> None:
    # GIVEN an __exit__ that raises while a body exception passes through
    # WHEN run bare and tracked
    bare, _ = run_exit_raising(lambda cm: cm)
    tracked, body_err = run_exit_raising(track)
    # THEN the same exception comes out, chained to the body's exception (__context__)
    assert shape(tracked) == shape(bare)
    assert type(tracked) is ExitBoom
    assert tracked.__context__ is body_err
    # AND the lifetime is `exit-raised` with the exit's own exception
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.EXIT_RAISED
    assert lt.error == "ExitBoom: a"


def test_exit_raising_without_a_body_exception_is_exit_raised(rec: Recorder) -> None:
    with pytest.raises(ExitBoom) as info, track(Scripted([], "a", exit_mode="raise")):
        pass
    assert info.value.__context__ is None
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.EXIT_RAISED


def test_exit_reraising_the_same_exception_is_released_with_error(rec: Recorder) -> None:
    # GIVEN a generator manager: its exit re-raises the body's exception object
    @contextlib.contextmanager
    def gen() -> Iterator[int]:
        yield 1

    err = Boom("through")
    with pytest.raises(Boom) as info, track(gen()):
        raise err
    assert info.value is err
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR


def test_failing_enter_acquires_nothing_in_context_mode(rec: Recorder) -> None:
    # GIVEN a manager whose __enter__ raises
    log: list[Any] = []
    # WHEN it is entered through a handle
    with pytest.raises(EnterBoom), track(Scripted(log, "a", enter_raises=True)):
        pytest.fail("the body must not run")
    # THEN no lifetime was recorded, and __exit__ was not called (as bare)
    assert rec.lifetimes() == []
    assert log == [("enter", "a")]


def test_failing_first_enter_withdraws_a_resource(rec: Recorder) -> None:
    # GIVEN a closeable resource: acquired as soon as it is tracked
    handle = track(Resource(enter_fails=1))
    assert len(rec.open_lifetimes()) == 1
    lid = handle.lifetime_id
    # WHEN its first __enter__ fails
    with pytest.raises(EnterBoom), handle:
        pytest.fail("the body must not run")
    # THEN the acquisition is withdrawn: nothing is left, not even for the collector to report
    assert rec.lifetimes() == []
    assert rec.lifetime(lid) is None
    assert handle.lifetime_id is None
    del handle
    assert rec.lifetimes() == []


def test_withdrawal_is_reported_in_a_batch(rec: Recorder) -> None:
    # GIVEN a consumer that already saw the acquisition of a resource
    handle = track(Resource(enter_fails=1))
    first = rec.drain()
    assert first.acquired == (handle.lifetime_id,)
    lid = handle.lifetime_id
    # WHEN its enter fails
    with pytest.raises(EnterBoom), handle:
        pass
    # THEN the next batch names it as withdrawn
    assert rec.drain().aborted == (lid,)


def test_acquired_then_withdrawn_in_one_batch_is_not_reported_acquired(rec: Recorder) -> None:
    handle = track(Resource(enter_fails=1))
    with pytest.raises(EnterBoom), handle:
        pass
    batch = rec.drain()
    assert batch.acquired == ()
    assert len(batch.aborted) == 1


def test_closed_file_fails_to_enter_and_acquires_nothing(rec: Recorder, tmp_path: Any) -> None:
    f = open(tmp_path / "x.txt", "w")  # noqa: SIM115 - closed by hand on purpose
    f.close()
    with pytest.raises(ValueError, match="closed file"), track(f):
        pass
    assert rec.lifetimes() == []


def test_failing_later_enter_keeps_the_resource_held(rec: Recorder) -> None:
    # GIVEN a resource entered once successfully, whose second (nested) enter fails
    res = Resource(enter_fails=0)
    handle = track(res, label="r")
    with handle:
        res.enter_fails = 99  # every further enter fails
        with pytest.raises(EnterBoom), handle:
            pass
        # THEN the outer entry still holds it
        assert [lt.label for lt in rec.open_lifetimes()] == ["r"]
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED


def test_reentrant_manager_entered_twice_gives_two_nested_lifetimes(rec: Recorder) -> None:
    # GIVEN one handle on a reentrant lock
    handle = track(threading.RLock())
    # WHEN it is entered twice, nested
    with handle:
        with handle:
            assert len(rec.open_lifetimes()) == 2
        assert len(rec.open_lifetimes()) == 1
    # THEN there are two lifetimes, the inner one inside the outer one (LIFO)
    outer, inner = rec.lifetimes()
    assert outer.outcome is inner.outcome is Outcome.RELEASED
    assert outer.released_ns is not None
    assert inner.released_ns is not None
    assert outer.acquired_ns <= inner.acquired_ns <= inner.released_ns <= outer.released_ns


@contextlib.contextmanager
def once() -> Iterator[str]:
    yield "once"


def enter_twice(wrap: Any) -> BaseException:
    cm = wrap(once())
    try:
        with cm, cm:
            pass
    except BaseException as exc:
        return exc
    raise AssertionError("entering a generator manager twice must fail")


def test_non_reentrant_generator_manager_entered_twice_raises_as_bare(rec: Recorder) -> None:
    # WHEN a @contextmanager object is entered twice, bare and tracked
    bare = enter_twice(lambda cm: cm)
    tracked = enter_twice(track)
    # THEN the same error comes out; only the successful outer entry was recorded
    assert shape(tracked) == shape(bare)
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == f"builtins.{type(bare).__name__}"


def exit_before_enter(wrap: Any, make: Any) -> Any:
    cm = wrap(make())
    try:
        return ("returned", cm.__exit__(None, None, None))
    except BaseException as exc:
        return ("raised", shape(exc))


@pytest.mark.parametrize("make", [lambda: Scripted([], "a"), once, threading.Lock], ids=["class", "generator", "lock"])
def test_exit_before_enter_behaves_as_bare_and_records_nothing(rec: Recorder, make: Any) -> None:
    assert exit_before_enter(track, make) == exit_before_enter(lambda cm: cm, make)
    assert rec.lifetimes() == []


def test_generator_manager_that_never_yields_raises_runtime_error(rec: Recorder) -> None:
    @contextlib.contextmanager
    def never() -> Iterator[None]:
        if False:
            yield

    with pytest.raises(RuntimeError, match="generator didn't yield"), track(never()):
        pass
    assert rec.lifetimes() == []


def test_generator_manager_that_yields_twice_raises_runtime_error(rec: Recorder) -> None:
    @contextlib.contextmanager
    def twice() -> Iterator[None]:
        with contextlib.suppress(Boom):
            yield
        yield

    # WHEN the body ends normally: exit complains the generator didn't stop
    with pytest.raises(RuntimeError, match="generator didn't stop"), track(twice(), label="clean"):
        pass
    # WHEN the body raises: the RuntimeError is chained to the body's exception
    err = Boom("body")
    with pytest.raises(RuntimeError, match="didn't stop after throw") as info, track(twice(), label="raised"):
        raise err
    assert info.value.__context__ is err
    lts = {lt.label: lt for lt in rec.lifetimes()}
    assert lts["clean"].outcome is Outcome.EXIT_RAISED
    assert lts["raised"].outcome is Outcome.EXIT_RAISED
    assert lts["raised"].error_type == "builtins.RuntimeError"


def test_keyboard_interrupt_in_the_body_passes_through(rec: Recorder) -> None:
    log: list[Any] = []
    with pytest.raises(KeyboardInterrupt), track(Scripted(log, "a")):
        raise KeyboardInterrupt
    assert log[-1] == ("exit", "a", "KeyboardInterrupt")
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == "builtins.KeyboardInterrupt"


def test_cancellation_through_a_sync_tracked_with_inside_a_task(rec: Recorder) -> None:
    # GIVEN a coroutine awaiting inside a plain (sync) tracked `with`, and the same bare
    def program(wrap: Any) -> tuple[list[Any], bool]:
        log: list[Any] = []

        async def body() -> None:
            with wrap(Scripted(log, "a")):
                await asyncio.sleep(10)

        async def main() -> bool:
            task = asyncio.ensure_future(body())
            await asyncio.sleep(0.01)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return task.cancelled()

        return log, asyncio.run(main())

    # WHEN the task is cancelled during the body
    bare = program(lambda cm: cm)
    tracked = program(track)
    # THEN the manager saw the CancelledError, the task ended cancelled (nothing swallowed it) ...
    assert tracked == bare
    assert tracked[0][-1] == ("exit", "a", "CancelledError")
    assert tracked[1] is True
    # ... and the lifetime was released with that error, not suppressed
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.error_type == "asyncio.exceptions.CancelledError"
    assert lt.suppressed is False


def test_keyboard_interrupt_in_enter_acquires_nothing(rec: Recorder) -> None:
    class Interrupted:
        def __enter__(self) -> None:
            raise KeyboardInterrupt

        def __exit__(self, *exc: object) -> None:
            raise AssertionError("not entered")

    with pytest.raises(KeyboardInterrupt), track(Interrupted()):
        pass
    assert rec.lifetimes() == []


class AsyncOnly:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class CloseOnly:
    def close(self) -> None:
        pass


class EnterOnly:
    def __enter__(self) -> None:
        return None


def protocol_error(wrap: Any, obj: Any) -> Any:
    try:
        with wrap(obj):
            pass
    except TypeError as exc:
        return shape(exc)
    raise AssertionError("no TypeError")


@pytest.mark.parametrize("make", [AsyncOnly, CloseOnly], ids=["async-only", "close-only"])
def test_object_without_the_sync_protocol_raises_the_bare_type_error(rec: Recorder, make: Any) -> None:
    assert protocol_error(track, make()) == protocol_error(lambda o: o, make())


def test_enter_without_exit_is_not_trackable_like_it_is_not_a_manager() -> None:
    with pytest.raises(TypeError, match="track"):
        track(EnterOnly())


def test_a_resource_without_the_protocol_stays_held_after_the_type_error(rec: Recorder) -> None:
    # GIVEN a closeable object without __enter__ (never entered: not a failed enter)
    handle = track(CloseOnly(), label="c")
    with pytest.raises(TypeError), handle:
        pass
    # THEN it is still held until closed
    assert [lt.label for lt in rec.open_lifetimes()] == ["c"]
    handle.close()
    assert rec.open_lifetimes() == []


def test_tracking_a_handle_returns_it_unchanged() -> None:
    with Recorder() as rec:
        handle = track(Resource())
        assert track(handle) is handle
        handle.close()
    assert len(rec.lifetimes()) == 1


def test_an_object_that_is_neither_manager_nor_closeable_is_refused() -> None:
    with pytest.raises(TypeError, match="track_stream"):
        track(iter([1, 2]))
