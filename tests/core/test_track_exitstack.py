"""ExitStack / AsyncExitStack: tracked managers unwind in the same LIFO order and with the same
exception chain as bare ones, and their sites point at the user's `enter_context` line."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import pytest
from core_cms import AScripted, Boom, ExitBoom, Resource, Scripted, shape
from withscope.core import Outcome, Recorder, track


def line_after() -> int:
    """The line number after the caller's current line."""
    return sys._getframe(1).f_lineno + 1


def stack_program(wrap: Any, names: list[str], exit_modes: dict[str, str], body_raises: bool) -> Any:
    log: list[Any] = []
    try:
        with contextlib.ExitStack() as stack:
            for name in names:
                stack.enter_context(wrap(Scripted(log, name, exit_mode=exit_modes.get(name, "ok")), label=name))
            if body_raises:
                raise Boom("body")
    except BaseException as exc:
        return log, shape(exc)
    return log, None


def bare(cm: Any, label: str = "") -> Any:
    return cm


@pytest.mark.parametrize(
    ("exit_modes", "body_raises"),
    [
        ({}, False),
        ({}, True),
        ({"b": "raise"}, True),  # an exit that raises replaces the body's exception
        ({"b": "suppress"}, True),
        ({"c": "raise", "a": "raise_from"}, False),
    ],
    ids=["clean", "body-raises", "exit-raises", "suppressed", "two-exits-raise"],
)
def test_exitstack_unwinds_tracked_managers_like_bare_ones(
    rec: Recorder, exit_modes: dict[str, str], body_raises: bool
) -> None:
    # GIVEN three managers entered into one ExitStack, some raising or suppressing on exit
    names = ["a", "b", "c"]
    # WHEN the program runs bare and tracked
    expected = stack_program(bare, names, exit_modes, body_raises)
    actual = stack_program(track, names, exit_modes, body_raises)
    # THEN exit order (LIFO), what each exit saw, and the final exception chain are identical
    assert actual == expected
    assert [step[1] for step in actual[0] if step[0] == "exit"] == ["c", "b", "a"]
    # AND the lifetimes were released innermost first
    lts = {lt.label: lt for lt in rec.lifetimes()}
    released = sorted(names, key=lambda n: lts[n].released_ns or 0)
    assert released == ["c", "b", "a"]


def test_sites_of_enter_context_point_at_the_users_line(rec: Recorder, tmp_path: Any) -> None:
    with contextlib.ExitStack() as stack:
        ctx_line = line_after()
        stack.enter_context(track(Scripted([], "ctx"), label="ctx"))  # context mode: acquired in __enter__
        res_line = line_after()
        stack.enter_context(track(Resource(), label="res"))  # resource mode: acquired at track()
    lts = {lt.label: lt for lt in rec.lifetimes()}
    assert lts["ctx"].site == f"{rel(__file__)}:{ctx_line}"
    assert lts["res"].site == f"{rel(__file__)}:{res_line}"


def rel(path: str) -> str:
    import os

    cwd = os.getcwd()
    return path[len(cwd) + 1 :] if path.startswith(cwd + os.sep) else path


def test_a_tracked_exitstack_runs_10000_callbacks_without_recursion(rec: Recorder) -> None:
    # GIVEN a tracked ExitStack holding 10,000 callbacks and 10,000 tracked managers
    out: list[int] = []
    with track(contextlib.ExitStack(), label="stack") as stack:
        for i in range(10_000):
            stack.callback(out.append, i)
            stack.enter_context(track(Scripted([], f"m{i}"), label=f"m{i}"))
    # THEN all ran, in reverse order, and every lifetime was released once
    assert out == list(range(9_999, -1, -1))
    lts = rec.lifetimes()
    assert len(lts) == 10_001
    assert all(lt.outcome is Outcome.RELEASED for lt in lts)
    stack_lt = next(lt for lt in lts if lt.label == "stack")
    assert all(lt.released_ns is not None and stack_lt.released_ns is not None for lt in lts)
    assert max(lt.released_ns or 0 for lt in lts) == stack_lt.released_ns


def test_a_raising_exit_in_10000_entries_still_unwinds_all(rec: Recorder) -> None:
    log: list[Any] = []

    def program() -> None:
        with contextlib.ExitStack() as stack:
            for i in range(10_000):
                stack.enter_context(track(Scripted(log, str(i), exit_mode="raise" if i == 5000 else "ok")))
            raise Boom("body")

    with pytest.raises(ExitBoom) as info:
        program()
    assert isinstance(info.value.__context__, Boom)
    assert len([e for e in log if e[0] == "exit"]) == 10_000
    outcomes = [lt.outcome for lt in rec.lifetimes()]
    assert outcomes.count(Outcome.EXIT_RAISED) == 1


async def astack_program(wrap: Any, names: list[str], exit_modes: dict[str, str], body_raises: bool) -> Any:
    log: list[Any] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for name in names:
                await stack.enter_async_context(
                    wrap(AScripted(log, name, exit_mode=exit_modes.get(name, "ok")), label=name)
                )
                stack.enter_context(wrap(Scripted(log, name.upper()), label=name.upper()))
            if body_raises:
                raise Boom("body")
    except BaseException as exc:
        return log, shape(exc)
    return log, None


@pytest.mark.parametrize(
    ("exit_modes", "body_raises"),
    [({}, False), ({"b": "raise"}, True), ({"a": "suppress"}, True)],
    ids=["clean", "exit-raises", "suppressed"],
)
def test_async_exitstack_unwinds_tracked_managers_like_bare_ones(
    rec: Recorder, exit_modes: dict[str, str], body_raises: bool
) -> None:
    names = ["a", "b", "c"]
    expected = asyncio.run(astack_program(bare, names, exit_modes, body_raises))
    actual = asyncio.run(astack_program(track, names, exit_modes, body_raises))
    assert actual == expected
    exits = [step[1] for step in actual[0] if step[0] == "exit"]
    assert exits == ["C", "c", "B", "b", "A", "a"]
    lts = {lt.label: lt for lt in rec.lifetimes()}
    assert sorted(lts, key=lambda n: lts[n].released_ns or 0) == exits


def test_sites_of_enter_async_context_point_at_the_users_line(rec: Recorder) -> None:
    lines: dict[str, int] = {}

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            lines["a"] = line_after()
            await stack.enter_async_context(track(AScripted([], "a"), label="a"))

    asyncio.run(main())
    (lt,) = rec.lifetimes()
    assert lt.site == f"{rel(__file__)}:{lines['a']}"
