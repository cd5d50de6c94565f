"""Property: for random nested programs of context managers that may raise in enter, body or
exit, or suppress, a tracked run is indistinguishable from a bare run (values, exceptions with
their chain shape, exit order), and the recorded lifetimes obey the invariants: each
successful entry is one lifetime, released at most once, with the outcome the run implies,
and nested blocks release LIFO (their intervals nest)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core_cms import AScripted, Boom, Scripted, shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from withscope.core import Lifetime, Outcome, Recorder, track
from withscope.core.events import RELEASE


class Halt(BaseException):
    """A body error that `except Exception` does not catch (like KeyboardInterrupt)."""


@dataclass(frozen=True)
class Spec:
    enter_raises: bool
    exit_mode: str  # see core_cms.scripted_exit
    body: str | None  # None | "boom" | "halt"
    catch: bool  # the body runs each child inside `try/except Exception`
    children: tuple[Spec, ...] = ()


@dataclass
class Node:
    name: str
    spec: Spec
    children: list[Node] = field(default_factory=list)


EXIT_MODES = st.sampled_from(["ok", "ok", "suppress", "raise", "raise_from", "reraise"])
BODIES = st.sampled_from([None, None, "boom", "halt"])
ENTER_RAISES = st.sampled_from([False, False, False, True])


def spec(children: st.SearchStrategy[tuple[Spec, ...]]) -> st.SearchStrategy[Spec]:
    return st.builds(
        Spec, enter_raises=ENTER_RAISES, exit_mode=EXIT_MODES, body=BODIES, catch=st.booleans(), children=children
    )


TREES = st.recursive(spec(st.just(())), lambda kids: spec(st.lists(kids, max_size=3).map(tuple)), max_leaves=10)
PROGRAMS = st.lists(TREES, min_size=1, max_size=3)


def number(specs: list[Spec]) -> list[Node]:
    counter = itertools.count()

    def build(s: Spec) -> Node:
        node = Node(f"n{next(counter)}", s)
        node.children = [build(c) for c in s.children]
        return node

    return [build(s) for s in specs]


def raise_body(node: Node) -> None:
    if node.spec.body == "boom":
        raise Boom(node.name)
    if node.spec.body == "halt":
        raise Halt(node.name)


def run_sync(nodes: list[Node], wrap: Any) -> tuple[list[Any], Any]:
    log: list[Any] = []

    def run(node: Node) -> None:
        cm = Scripted(log, node.name, enter_raises=node.spec.enter_raises, exit_mode=node.spec.exit_mode)
        with wrap(cm, label=node.name) as value:
            log.append(("body", node.name, value))
            for child in node.children:
                if node.spec.catch:
                    try:
                        run(child)
                    except Exception as exc:
                        log.append(("caught", node.name, shape(exc)))
                else:
                    run(child)
            raise_body(node)
        log.append(("after", node.name))

    try:
        for node in nodes:
            run(node)
    except BaseException as exc:
        return log, shape(exc)
    return log, None


def run_async(nodes: list[Node], wrap: Any) -> tuple[list[Any], Any]:
    log: list[Any] = []

    async def run(node: Node) -> None:
        cm = AScripted(log, node.name, enter_raises=node.spec.enter_raises, exit_mode=node.spec.exit_mode)
        async with wrap(cm, label=node.name) as value:
            log.append(("body", node.name, value))
            for child in node.children:
                if node.spec.catch:
                    try:
                        await run(child)
                    except Exception as exc:
                        log.append(("caught", node.name, shape(exc)))
                else:
                    await run(child)
            raise_body(node)
        log.append(("after", node.name))

    async def main() -> Any:
        try:
            for node in nodes:
                await run(node)
        except BaseException as exc:
            return shape(exc)
        return None

    result = asyncio.run(main())
    return log, result


def bare(cm: Any, label: str) -> Any:
    return cm


def expected_outcomes(nodes: list[Node], log: list[Any]) -> dict[str, tuple[Outcome, bool]]:
    """What the bare run implies for each node that entered: (outcome, suppressed)."""
    modes = {}
    stack = list(nodes)
    while stack:
        n = stack.pop()
        modes[n.name] = n.spec
        stack.extend(n.children)
    out: dict[str, tuple[Outcome, bool]] = {}
    for step in log:
        if step[0] != "exit":
            continue
        name, passing = step[1], step[2]
        mode = modes[name].exit_mode
        if mode in ("raise", "raise_from"):
            out[name] = (Outcome.EXIT_RAISED, False)
        elif passing is None:
            out[name] = (Outcome.RELEASED, False)
        else:
            out[name] = (Outcome.RELEASED_WITH_ERROR, mode == "suppress")
    return out


def check_invariants(nodes: list[Node], log: list[Any], rec: Recorder) -> None:
    raw = list(rec._buf)  # the raw event stream, before folding
    releases = Counter(ev[1] for ev in raw if ev[0] == RELEASE)
    assert all(n == 1 for n in releases.values()), "an acquisition was released more than once"
    lts = {lt.label: lt for lt in rec.lifetimes()}
    assert len(lts) == len(rec.lifetimes())
    # Every successful entry is one lifetime, and nothing else is.
    expected = expected_outcomes(nodes, log)
    assert set(lts) == set(expected)
    for name, (outcome, suppressed) in expected.items():
        assert (lts[name].outcome, lts[name].suppressed) == (outcome, suppressed), name
    assert set(releases) == {lt.id for lt in lts.values()}
    # Nested blocks release LIFO: intervals of a child lie inside its parent's, and no two
    # lifetimes partially overlap.
    intervals = {name: span(lt) for name, lt in lts.items()}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        for child in node.children:
            if node.name in intervals and child.name in intervals:
                (pa, pr), (ca, cr) = intervals[node.name], intervals[child.name]
                assert pa <= ca <= cr <= pr, (node.name, child.name)
            stack.append(child)
    spans = sorted(intervals.values())
    for (a1, r1), (a2, r2) in itertools.combinations(spans, 2):
        assert not (a1 < a2 < r1 < r2), "partially overlapping lifetimes"


def span(lt: Lifetime) -> tuple[int, int]:
    assert lt.released_ns is not None, f"{lt.label} left open"
    return lt.acquired_ns, lt.released_ns


SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(PROGRAMS)
def test_tracked_sync_programs_behave_exactly_like_bare_ones(specs: list[Spec]) -> None:
    nodes = number(specs)
    expected = run_sync(nodes, bare)
    with Recorder(name="property") as rec:
        actual = run_sync(nodes, track)
        assert actual == expected
        check_invariants(nodes, actual[0], rec)


@SETTINGS
@given(PROGRAMS)
def test_tracked_async_programs_behave_exactly_like_bare_ones(specs: list[Spec]) -> None:
    nodes = number(specs)
    expected = run_async(nodes, bare)
    with Recorder(name="property") as rec:
        actual = run_async(nodes, track)
        assert actual == expected
        check_invariants(nodes, actual[0], rec)
