"""Context managers with scripted behaviour, shared by the recorder-core tests.

Each logs what happens to it into a shared list, so a bare run and a tracked run can be
compared step by step.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from withscope.core import Lifetime, Recorder


class Boom(Exception):
    """The error a scripted manager or body raises (args identify who raised it)."""


class ExitBoom(Exception):
    """Raised by a scripted `__exit__`."""


class EnterBoom(Exception):
    """Raised by a scripted `__enter__`."""


class Scripted:
    """A sync context manager. `exit_mode`: "ok" | "suppress" | "raise" | "raise_from" | "reraise"."""

    def __init__(
        self, log: list[Any], name: str, *, enter_raises: bool = False, exit_mode: str = "ok", value: Any = None
    ) -> None:
        self.log = log
        self.name = name
        self.enter_raises = enter_raises
        self.exit_mode = exit_mode
        self.value = value if value is not None else f"value-{name}"

    def __enter__(self) -> Any:
        self.log.append(("enter", self.name))
        if self.enter_raises:
            raise EnterBoom(self.name)
        return self.value

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> Any:
        self.log.append(("exit", self.name, et.__name__ if et else None))
        return scripted_exit(self.exit_mode, self.name, ev)


class AScripted:
    """The async twin of `Scripted` (awaits once in enter and exit)."""

    def __init__(
        self, log: list[Any], name: str, *, enter_raises: bool = False, exit_mode: str = "ok", value: Any = None
    ) -> None:
        self.log = log
        self.name = name
        self.enter_raises = enter_raises
        self.exit_mode = exit_mode
        self.value = value if value is not None else f"value-{name}"

    async def __aenter__(self) -> Any:
        await asyncio.sleep(0)
        self.log.append(("enter", self.name))
        if self.enter_raises:
            raise EnterBoom(self.name)
        return self.value

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Any:
        await asyncio.sleep(0)
        self.log.append(("exit", self.name, et.__name__ if et else None))
        return scripted_exit(self.exit_mode, self.name, ev)


def scripted_exit(mode: str, name: str, ev: BaseException | None) -> Any:
    if mode == "suppress":
        return f"truthy-{name}"  # a truthy non-bool: the handle must return this very object
    if mode == "raise":
        raise ExitBoom(name)
    if mode == "raise_from":
        raise ExitBoom(name) from ev
    if mode == "reraise" and ev is not None:
        raise ev
    return None


class Resource:
    """A closeable resource (resource mode): acquired when tracked. May fail its first enter."""

    def __init__(self, log: list[Any] | None = None, *, enter_fails: int = 0) -> None:
        self.log = log if log is not None else []
        self.enter_fails = enter_fails  # fail this many enters (counting from the first)
        self.entries = 0
        self.closed = False

    def __enter__(self) -> Resource:
        self.entries += 1
        if self.entries <= self.enter_fails:
            raise EnterBoom("resource")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.log.append("close")
        self.closed = True

    def release(self, *args: Any) -> str:
        self.log.append(("release", args))
        return "released"


class AResource:
    """An async closeable resource (resource mode): `aclose()`, `async with`."""

    def __init__(self, *, enter_fails: bool = False) -> None:
        self.enter_fails = enter_fails
        self.closed = False

    async def __aenter__(self) -> AResource:
        await asyncio.sleep(0)
        if self.enter_fails:
            raise EnterBoom("aresource")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await asyncio.sleep(0)
        self.closed = True


def shape(exc: BaseException | None, depth: int = 0) -> Any:
    """Type, args and the shape of the `__context__`/`__cause__` chain (and group members)."""
    if exc is None or depth > 12:
        return None
    members = tuple(shape(e, depth + 1) for e in exc.exceptions) if isinstance(exc, BaseExceptionGroup) else ()
    return (
        type(exc).__name__,
        exc.args if not isinstance(exc, BaseExceptionGroup) else exc.args[0],
        shape(exc.__context__, depth + 1),
        shape(exc.__cause__, depth + 1),
        exc.__suppress_context__,
        members,
    )


def by_label(rec: Recorder) -> dict[str, Lifetime]:
    """Lifetimes keyed by label (labels must be unique in the test)."""
    out = {lt.label: lt for lt in rec.lifetimes()}
    assert len(out) == len(rec.lifetimes()), "labels are not unique"
    return out
