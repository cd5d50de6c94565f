"""`@tracked` on a context-manager class, a `@contextmanager` factory and an
`@asynccontextmanager` factory: every instance is tracked, behaviour is unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from core_cms import Boom
from withscope.core import Outcome, Recorder, tracked


@tracked
class Session:
    """A context-manager class tracked bare (`@tracked`)."""

    def __init__(self, name: str, suppress: bool = False) -> None:
        self.name = name
        self.suppress = suppress
        self.log: list[str] = []

    def __enter__(self) -> Session:
        self.log.append("enter")
        return self

    def __exit__(self, *exc: object) -> bool:
        self.log.append("exit")
        return self.suppress


@tracked(kind="db.session", label="async session")
class ASession:
    async def __aenter__(self) -> str:
        return "asession"

    async def __aexit__(self, *exc: object) -> None:
        return None


@tracked
@contextlib.contextmanager
def opened(name: str) -> Iterator[str]:
    yield f"opened {name}"


@tracked(kind="lease")
@contextlib.asynccontextmanager
async def leased(name: str) -> AsyncIterator[str]:
    await asyncio.sleep(0)
    yield f"leased {name}"


def test_every_instance_of_a_tracked_class_is_tracked(rec: Recorder) -> None:
    # GIVEN a decorated class, which is still the same class
    assert isinstance(Session("x"), Session)
    # WHEN two instances are used, one of them twice
    s = Session("a")
    with s as entered:
        assert entered is s
    with s:
        pass
    with Session("b"):
        pass
    # THEN each entry is one released lifetime with the class's default kind and label
    lts = rec.lifetimes()
    assert [(lt.kind, lt.label, lt.outcome) for lt in lts] == [("resource", "Session", Outcome.RELEASED)] * 3
    assert s.log == ["enter", "exit", "enter", "exit"]


def test_a_tracked_class_keeps_its_exceptions_and_suppression(rec: Recorder) -> None:
    err = Boom("x")
    with pytest.raises(Boom) as info, Session("a"):
        raise err
    assert info.value is err
    with Session("b", suppress=True):
        raise Boom("swallowed")
    first, second = rec.lifetimes()
    assert first.outcome is Outcome.RELEASED_WITH_ERROR
    assert first.suppressed is False
    assert second.suppressed is True


def test_a_tracked_async_class_uses_the_given_kind_and_label(rec: Recorder) -> None:
    async def main() -> str:
        async with ASession() as value:
            return str(value)

    assert asyncio.run(main()) == "asession"
    (lt,) = rec.lifetimes()
    assert (lt.kind, lt.label, lt.outcome) == ("db.session", "async session", Outcome.RELEASED)


def test_a_subclass_and_a_second_decoration_do_not_double_the_recording(rec: Recorder) -> None:
    class Child(Session):
        pass

    tracked(Session)  # decorating again changes nothing
    tracked(Child)
    with Child("c"):
        pass
    assert len(rec.lifetimes()) == 1


def test_a_tracked_class_records_into_the_recorder_active_at_entry() -> None:
    with Recorder() as first, Session("a"):
        pass
    with Recorder() as second, Session("b"):
        pass
    assert len(first.lifetimes()) == 1
    assert len(second.lifetimes()) == 1


def test_a_tracked_class_reentered_pairs_exits_lifo(rec: Recorder) -> None:
    s = Session("a")
    with s:
        with s:
            pass
        assert len(rec.open_lifetimes()) == 1
    outer, inner = rec.lifetimes()
    assert inner.released_ns is not None
    assert outer.released_ns is not None
    assert inner.released_ns <= outer.released_ns


def test_a_tracked_contextmanager_factory(rec: Recorder) -> None:
    # GIVEN a @contextmanager factory decorated with @tracked
    line = sys._getframe().f_lineno + 1
    with opened("db") as value:
        assert value == "opened db"
    err = Boom("y")
    with pytest.raises(Boom) as info, opened("db2"):
        raise err
    assert info.value is err
    # THEN each call was one lifetime, labelled with the factory's name, sited at the caller
    first, second = rec.lifetimes()
    assert first.label == "opened"
    assert first.kind == "context"
    assert first.site is not None
    assert first.site.endswith(f"test_tracked_decorator.py:{line}")
    assert first.outcome is Outcome.RELEASED
    assert second.outcome is Outcome.RELEASED_WITH_ERROR
    assert opened.__name__ == "opened"  # functools.wraps


def test_a_tracked_asynccontextmanager_factory(rec: Recorder) -> None:
    async def main() -> str:
        async with leased("conn") as value:
            return str(value)

    assert asyncio.run(main()) == "leased conn"
    (lt,) = rec.lifetimes()
    assert (lt.kind, lt.label, lt.outcome) == ("lease", "leased", Outcome.RELEASED)
    assert lt.task is not None


def test_tracked_refuses_what_is_not_a_manager_class_or_factory() -> None:
    class Plain:
        pass

    with pytest.raises(TypeError, match="context-manager class"):
        tracked(Plain)
    not_callable: Any = 42
    with pytest.raises(TypeError, match="decorates a class or a factory"):
        tracked(not_callable)
