"""User targets (`file.py:function`) the GUI tests run through the real runner."""

from __future__ import annotations

import asyncio
import os
import tempfile

from withscope.core import track

KEPT: list[object] = []  # leaked on purpose by `leak_file`; the test closes them


def leak_file() -> None:
    """Opens a file and never closes it: an `unreleased` alert and an open bar."""
    f = track(tempfile.TemporaryFile(), kind="file", label="leaked.tmp")  # noqa: SIM115 (the leak is the point)
    KEPT.append(f)


async def hold_files() -> None:
    """Holds three files (properly, with `with`) until cancelled."""
    with (
        track(open(os.devnull, "rb"), label="a"),  # noqa: ASYNC230 (a quick local open is the point)
        track(open(os.devnull, "rb"), label="b"),  # noqa: ASYNC230
        track(open(os.devnull, "rb"), label="c"),  # noqa: ASYNC230
    ):
        await asyncio.sleep(60)


async def crash() -> None:
    with track(open(os.devnull, "rb"), label="before the crash"):  # noqa: ASYNC230
        pass
    raise RuntimeError("the workload crashed")


class _SwallowAll:
    """A manager whose `__exit__` swallows every exception (a `suppressed-exception` alert)."""

    def __enter__(self) -> _SwallowAll:
        return self

    def __exit__(self, *exc: object) -> bool:
        return True


async def swallow_then_wait() -> None:
    """Swallows an exception at once, then keeps running until cancelled: the alert is live."""
    with track(_SwallowAll(), kind="lock", label="swallower"):
        raise ValueError("lost")
    await asyncio.sleep(60)
