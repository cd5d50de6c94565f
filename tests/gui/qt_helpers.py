"""Helpers shared by the GUI tests (importable: tests/gui is on sys.path in pytest's prepend mode)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication


def flush_deletes() -> None:
    for _ in range(3):
        gc.collect()  # pyqtgraph's parentless menus die with their (cyclic) Python owners
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.processEvents()


async def until(predicate: Callable[[], object], limit_s: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate` on the running loop (Qt events keep flowing) until true or `limit_s`."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
        await asyncio.sleep(0.01)


async def close_window(win: Any) -> None:
    """Inside a scenario: close `win` like a user and await its shutdown. Tests end their
    scenario with this so no loop task is left for pytest-qt's teardown event processing to
    resume while asyncio is not running."""
    if not win.shut_down:
        win.close()
        await until(lambda: win.shut_down, 30, "window shutdown")


def shutdown_window(loop: asyncio.AbstractEventLoop, win: Any) -> None:
    """Close `win` the way a user does and run the loop until its shutdown finished."""
    if not win.shut_down:
        async def close() -> None:
            win.close()
            await until(lambda: win.shut_down, 30, "window shutdown")

        loop.run_until_complete(close())
    win.deleteLater()
    flush_deletes()
