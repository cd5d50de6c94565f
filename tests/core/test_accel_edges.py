"""Edge cases where the C accelerator (core/_speedups.c) must record what the pure-Python hot path
records (run with the accelerator by default, and with WITHSCOPE_PURE_PYTHON=1)."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from accel_scenario import ACM
from withscope.core import Recorder, track, track_stream

track_module = importlib.import_module("withscope.core.track")  # the module (`core.track` is the function)


class CM:
    def __enter__(self) -> CM:
        return self

    def __exit__(self, *exc: object) -> bool:
        return True  # swallows: an exit with an exception is released with an outcome


def outcomes(rec: Recorder) -> dict[str, tuple[str, str | None]]:
    rec.drain()
    return {lt.label: (str(lt.outcome), lt.error_type) for lt in rec.lifetimes()}


def test_async_with_statement_does_not_arm_the_handle(rec: Recorder) -> None:
    # `_AsyncCtx.__aenter__` recognises the `async with` statement (SEND after GET_AWAITABLE 1):
    # the handle stays of the class without `__del__`; an entry by hand arms it.
    async def main() -> tuple[type, type]:
        h = track(ACM())
        async with h:
            pass
        by_hand = track(ACM())
        await by_hand.__aenter__()
        await by_hand.__aexit__(None, None, None)
        return type(h), type(by_hand)

    statement, by_hand = asyncio.run(main())
    assert statement is track_module._AsyncCtx
    assert "__del__" not in vars(statement)
    assert by_hand is track_module._AsyncCtxArmed


class _CloseFails:
    """The iterator of an awaitable that never finishes and whose close() raises."""

    def __iter__(self) -> _CloseFails:
        return self

    def __next__(self) -> None:
        return None

    def send(self, value: object) -> None:
        return None

    def throw(self, exc: BaseException, *rest: object) -> None:
        raise exc

    def close(self) -> None:
        raise OSError("inner close failed")


class _Pending:
    def __await__(self) -> Any:
        return _CloseFails()


class ExitCloseFails:
    async def __aenter__(self) -> ExitCloseFails:
        return self

    def __aexit__(self, *exc: object) -> _Pending:
        return _Pending()


def test_closing_a_suspended_aexit_whose_close_raises(rec: Recorder) -> None:
    # Closing the coroutine suspended in the wrapped `__aexit__`: the error of the wrapped close()
    # propagates (the coroutine `Tracked.__aexit__` raises it at its `await`) and ends the exit.
    h = track(ExitCloseFails(), label="exit-close-fails")

    async def body() -> None:
        async with h:
            pass

    coro = body()
    coro.send(None)  # suspended in __aexit__
    with pytest.raises(OSError, match="inner close failed"):
        coro.close()
    assert outcomes(rec)["exit-close-fails"] == ("exit-raised", "builtins.OSError")


def test_closing_a_suspended_aexit_records_generator_exit(rec: Recorder) -> None:
    h = track(ACM(), label="closed-in-exit")

    async def body() -> None:
        async with h:
            pass

    coro = body()
    coro.send(None)  # in __aenter__'s sleep
    coro.send(None)  # in __aexit__'s sleep
    coro.close()
    assert outcomes(rec)["closed-in-exit"] == ("exit-raised", "builtins.GeneratorExit")


def test_cancelled_while_aenter_or_aexit_is_suspended(rec: Recorder) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[None] = loop.create_future()

        class Gate:
            async def __aenter__(self) -> None:
                await gate

            async def __aexit__(self, *exc: object) -> None:
                await loop.create_future()  # never done: cancelled here

        async def in_enter() -> None:
            async with track(Gate(), label="in-enter"):
                pass

        t = asyncio.create_task(in_enter())
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        gate = loop.create_future()

        async def in_exit() -> None:
            async with track(Gate(), label="in-exit"):
                pass

        t = asyncio.create_task(in_exit())
        await asyncio.sleep(0)
        gate.set_result(None)
        for _ in range(3):
            await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    asyncio.run(main())
    got = outcomes(rec)
    assert "in-enter" not in got  # a cancelled __aenter__ acquires nothing
    assert got["in-exit"] == ("exit-raised", "asyncio.exceptions.CancelledError")


def test_released_ids_keep_buffer_order(rec: Recorder) -> None:
    # A release with an outcome (an exception passed through) before a clean one: `Batch.released`
    # lists them in the order they happened, as the pure-Python fold does.
    first, second, third = track(CM()), track(CM()), track(CM())
    first.__enter__()
    second.__enter__()
    third.__enter__()
    ids = [first.lifetime_id, second.lifetime_id, third.lifetime_id]
    rec.drain()
    first.__exit__(KeyError, KeyError("k"), None)
    second.__exit__(None, None, None)
    third.__exit__(None, None, None)
    assert list(rec.drain().released) == ids


def _chunks(n: int, fail: bool = False) -> Generator[bytes, None, None]:
    for _ in range(n):
        yield b"ab"
    if fail:
        raise ValueError("source failed")


def test_stream_edges(rec: Recorder) -> None:
    s = track_stream(_chunks(5), "gc-mid-way")
    it: Iterator[bytes] = iter(s)
    next(it)
    next(it)
    del s, it
    gc.collect()
    s = track_stream(_chunks(2), "close-after-end")
    assert list(s) == [b"ab", b"ab"]
    s.close()
    s = track_stream(_chunks(2), "close-before-start")
    s.close()
    s = track_stream(_chunks(2, fail=True), "source-raises")
    with pytest.raises(ValueError, match="source failed"):
        list(s)
    s = track_stream(_chunks(3), "size-raises", size=lambda c: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        list(s)
    got = outcomes(rec)
    assert got == {
        "gc-mid-way": ("gc", None),
        "close-after-end": ("released", None),
        "close-before-start": ("released", None),
        "source-raises": ("released-with-error", "builtins.ValueError"),
        "size-raises": ("released-with-error", "builtins.ZeroDivisionError"),
    }
    stats = {st.label: (st.chunks, st.bytes, st.ended) for st in rec.streams()}
    assert stats["gc-mid-way"] == (2, 4, True)
    assert stats["source-raises"] == (2, 4, True)
    assert stats["size-raises"] == (1, 0, True)
