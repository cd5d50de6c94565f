"""Helpers shared by the GUI tests (importable: tests/gui is on sys.path in pytest's prepend mode)."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, asserted not None (a Qt item or an optional part the test expects to exist)."""
    assert value is not None
    return value


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


# ---------------------------------------------------------------- real input (X server or QTest)
def real_x() -> bool:
    """True when the tests run on an X server through Qt's xcb platform with xdotool at hand:
    input then goes through the X server (XTEST) like a user's."""
    return (os.environ.get("QT_QPA_PLATFORM") == "xcb" and bool(os.environ.get("DISPLAY"))
            and shutil.which("xdotool") is not None)


async def settle(seconds: float = 0.08) -> None:
    """Inside a scenario: let Qt and the loop handle what was just sent."""
    await asyncio.sleep(seconds)


class Mouse:
    """A user's mouse on `widget`-relative points: xdotool on a real X server (the events take
    the X server's path into Qt, as a desktop's do), QTest offscreen. Used inside a scenario
    coroutine (the loop keeps running: a qasync `run_until_complete` per action would handle some
    of the app's timers after it has stopped); each action awaits a moment so Qt handles it."""

    def __init__(self) -> None:
        self.x = real_x()

    def _xdo(self, *args: object) -> None:
        subprocess.run(["xdotool", *map(str, args)], check=True, timeout=15)

    @staticmethod
    def _global(widget: QWidget, pos: QPoint) -> QPoint:
        return widget.mapToGlobal(pos)

    async def move(self, widget: QWidget, pos: QPoint) -> None:
        if self.x:
            g = self._global(widget, pos)
            self._xdo("mousemove", g.x(), g.y())
        else:
            QTest.mouseMove(widget, pos)
        await settle(0.03)

    async def click(self, widget: QWidget, pos: QPoint, *, double: bool = False) -> None:
        if self.x:
            await self.move(widget, pos)
            self._xdo("click", *(("--repeat", 2, "--delay", 60) if double else ()), 1)
        elif double:  # what a double click sends: press, release, double-click press, release
            QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
            QTest.mouseDClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        else:
            QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        await settle()

    async def drag(self, widget: QWidget, start: QPoint, end: QPoint) -> None:
        if self.x:
            await self.move(widget, start)
            self._xdo("mousedown", 1)
            await settle(0.05)
            for i in range(1, 4):
                g = self._global(widget, start + (end - start) * (i / 3))
                self._xdo("mousemove", g.x(), g.y())
                await settle(0.03)
            self._xdo("mouseup", 1)
        else:
            QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
            for i in range(1, 4):
                QTest.mouseMove(widget, start + (end - start) * (i / 3))
            QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
        await settle()

    async def wheel(self, widget: QWidget, pos: QPoint, notches: int) -> None:
        """`notches` > 0 scrolls up (zooms in on plots), < 0 down."""
        if self.x:
            await self.move(widget, pos)
            self._xdo("click", "--repeat", abs(notches), "--delay", 30, 4 if notches > 0 else 5)
        else:
            g = QPointF(widget.mapToGlobal(pos))
            ev = QWheelEvent(QPointF(pos), g, QPoint(), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                             Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
            QApplication.sendEvent(widget, ev)
        await settle()

    async def key(self, widget: QWidget, key: Qt.Key, xname: str) -> None:
        """Press `key` (`xname` is its X keysym name) in `widget`, which has the focus."""
        if self.x:
            self._xdo("key", xname)
        else:
            QTest.keyClick(widget, key)
        await settle()

    def _gesture_args(self, widget: QWidget, pos: QPoint, drag_by: QPoint) -> list[object]:
        a, b = self._global(widget, pos), self._global(widget, pos + drag_by)
        mid = self._global(widget, pos + drag_by / 2)
        return ["mousemove", a.x(), a.y(), "click", 1, "sleep", 0.1,
                "click", "--repeat", 2, "--delay", 60, 1, "sleep", 0.1,
                "mousedown", 1, "mousemove", mid.x(), mid.y(), "mousemove", b.x(), b.y(), "mouseup", 1,
                "mousemove", a.x(), a.y(), "click", 4, "click", 5, "mousemove", a.x() + 3, a.y() + 3]

    async def gesture(self, widget: QWidget, pos: QPoint, drag_by: QPoint) -> None:
        """A hand's worth at `pos`: a click, a double click, a drag by `drag_by`, the wheel up and
        down, a hover. On X in one xdotool call (the X server queues the events, with their own
        timestamps, and Qt takes them in order), as QTest events offscreen."""
        await self.gestures([(widget, pos, drag_by)])

    async def gestures(self, where: list[tuple[QWidget, QPoint, QPoint]]) -> None:
        """`gesture` on each (widget, pos, drag_by) in turn. On X all of them in one xdotool call:
        the same events, in the same order, with the same pauses between them (the X server
        timestamps them), without a process and a settle per widget."""
        if self.x:
            args: list[object] = []
            for widget, pos, drag_by in where:
                args += self._gesture_args(widget, pos, drag_by)
            if args:
                self._xdo(*args)
            await settle(0.15)
            return
        for widget, pos, drag_by in where:
            await self.click(widget, pos)
            await self.click(widget, pos, double=True)
            await self.drag(widget, pos, pos + drag_by)
            await self.wheel(widget, pos, 1)
            await self.wheel(widget, pos, -1)
            await self.move(widget, pos + QPoint(3, 3))
