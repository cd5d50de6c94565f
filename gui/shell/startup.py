"""The progressive start-up of the main window: the frame first, the plots on a later loop turn.

`MainWindow(defer_views=True)` (what the app uses) shows its frame - menus, toolbar, catalogue,
status bar and the dock layout - with light placeholders where the plots and the data docks go,
before numpy or pyqtgraph are imported. Once that frame has been painted (`FirstShow`), the plots
and the docks are built on the next loop turn and take the placeholders' places. Everything that
needs them waits in a `ReadyQueue`: runs asked for with `--run`, a click on Run, the View menu's
timeline actions, tours, recordings and exports are queued and run in order once the views exist.

This module imports Qt only (never numpy or pyqtgraph): it is part of what the first frame costs.
GUI thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget

log = logging.getLogger("withscope")

# When the platform never reports the window exposed (a minimised start, some window managers),
# the views are built anyway this long after `show()`.
FIRST_SHOW_FALLBACK_MS = 1000


class Placeholder(QLabel):
    """A quiet "Loading plots…" where a view will be."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setObjectName("loadingPlaceholder")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.setMinimumSize(80, 40)


def placeholder_dock(title: str, object_name: str, parent: QWidget) -> QDockWidget:
    """A dock with the title and object name of the dock it stands for (so the saved layout
    places it), holding a `Placeholder`."""
    dock = QDockWidget(title, parent)
    dock.setObjectName(object_name)
    dock.setWidget(Placeholder("Loading…"))
    return dock


class FirstShow(QObject):
    """Emits `shown` once, on the first loop turn after `widget`'s window was exposed (and so
    painted: Qt paints a widget window while it handles the expose event), or
    `FIRST_SHOW_FALLBACK_MS` after the first show when no expose ever comes."""

    shown = Signal()

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self._widget = widget
        self._watching = False
        self.done = False
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt API
        t = event.type()
        if obj is self._widget and t == QEvent.Type.Show and not self._watching:
            self._watching = True
            handle = self._widget.windowHandle()
            if handle is not None:
                handle.installEventFilter(self)
            QTimer.singleShot(FIRST_SHOW_FALLBACK_MS, self, self._fire)
        elif t == QEvent.Type.Expose and obj is not self._widget and not self.done:
            handle = self._widget.windowHandle()
            if handle is not None and handle.isExposed():
                # This filter runs before the window handles the event (and paints): fire on
                # the next loop turn, when the frame is on screen.
                QTimer.singleShot(0, self, self._fire)
        return False

    def _fire(self) -> None:
        if self.done:
            return
        self.done = True
        handle = self._widget.windowHandle()
        if handle is not None:
            handle.removeEventFilter(self)
        self._widget.removeEventFilter(self)
        self.shown.emit()


class ReadyQueue:
    """Calls waiting for the views: `call(fn, *args)` runs `fn` now once `open()` was called, else
    queues it; `open()` runs the queue in order (a call that raises is logged and reported through
    `on_error`, the others still run) and wakes `wait()`ers. `drop()` forgets the queued calls;
    `fail(exc)` drops them too and makes `wait()` raise `exc`."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self.is_open = False
        self.error: BaseException | None = None
        self._calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._on_error = on_error

    def __len__(self) -> int:
        return len(self._calls)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.is_open:
            fn(*args)
        elif self.error is None:
            self._calls.append((fn, args))

    def open(self) -> None:
        self.is_open = True
        while self._calls:
            fn, args = self._calls.pop(0)
            try:
                fn(*args)
            except Exception as exc:
                log.exception("withscope: a queued action failed")
                self._on_error(f"Internal error: {exc!r}")
        self._wake(None)

    def drop(self) -> None:
        """Forget the queued calls (the window closes before the views exist)."""
        self._calls.clear()

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self._calls.clear()
        self._wake(exc)

    async def wait(self) -> None:
        if self.is_open:
            return
        if self.error is not None:
            raise self.error
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await fut

    def _wake(self, exc: BaseException | None) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if fut.done():
                continue
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)
