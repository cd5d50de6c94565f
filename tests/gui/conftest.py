"""GUI test fixtures (pytest-qt, offscreen).

- `_no_leaked_widgets_or_timers` (autouse): a test that leaves a parentless top-level widget alive
  or a QTimer running fails (napari's dangling-qtimer / leaked-widget checks).
- `loop`: a qasync `QEventLoop` on pytest-qt's single `qapp`. Tests drive asyncio from the
  synchronous test with `loop.run_until_complete(...)` (never qtbot waits inside a coroutine); at
  teardown left-over tasks are cancelled and every exception the loop swallowed fails the test.
- `window`: a `MainWindow` with throw-away settings, shut down properly (runs cancelled and
  awaited) at teardown.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import withscope.gui  # noqa: F401  (pins PySide6 before pyqtgraph/qasync are imported)
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication, QWidget

_IGNORED_TOPLEVEL = {"QTipLabel", "QWidgetWindow"}


def _flush_deletes() -> None:
    for _ in range(3):
        gc.collect()  # pyqtgraph's parentless menus die with their (cyclic) Python owners
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.processEvents()


@pytest.fixture(autouse=True)
def _no_leaked_widgets_or_timers(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    started: list[weakref.ref[QTimer]] = []
    original_start = QTimer.start

    def tracking_start(self: QTimer, *args: Any) -> None:
        started.append(weakref.ref(self))
        original_start(self, *args)

    monkeypatch.setattr(QTimer, "start", tracking_start)
    before = {id(w) for w in QApplication.topLevelWidgets()}
    yield
    _flush_deletes()
    leaked = [
        w for w in QApplication.topLevelWidgets()
        if id(w) not in before and w.parent() is None and type(w).__name__ not in _IGNORED_TOPLEVEL
    ]
    running = []
    for ref in started:
        t = ref()
        try:
            if t is not None and t.isActive():
                running.append(t)
        except RuntimeError:  # its C++ object was deleted: not running
            pass
    for w in leaked:  # do not poison the next test
        w.close()
        w.deleteLater()
    for t in running:
        t.stop()
    _flush_deletes()
    assert not leaked, f"test left top-level widgets behind: {[type(w).__name__ for w in leaked]}"
    assert not running, f"test left QTimers running: {[t.objectName() or repr(t) for t in running]}"


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    import qasync

    lp = qasync.QEventLoop(qapp)
    errors: list[dict[str, Any]] = []
    lp.set_exception_handler(lambda _l, ctx: errors.append(ctx))
    asyncio.set_event_loop(lp)
    try:
        yield lp
    finally:
        pending = [t for t in asyncio.all_tasks(lp) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            lp.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        lp.close()
        asyncio.set_event_loop(None)
    assert not errors, f"the loop swallowed exceptions: {[e.get('exception') or e.get('message') for e in errors]}"


async def until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate` on the running loop (Qt events keep flowing) until true or `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "withscope.ini"


@pytest.fixture
def window(qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path) -> Iterator[Any]:
    from withscope.gui.main_window import MainWindow
    from withscope.gui.settings import Settings

    patterns = _patterns()
    win = MainWindow(patterns=patterns, settings=Settings(settings_path))
    win.resize(1400, 900)
    win.show()

    async def start() -> None:
        win.start()

    loop.run_until_complete(start())
    try:
        yield win
    finally:
        shutdown_window(loop, win)


def shutdown_window(loop: asyncio.AbstractEventLoop, win: Any) -> None:
    """Close `win` the way a user does and run the loop until its shutdown finished."""
    if not win.shut_down:
        async def close() -> None:
            win.close()
            await until(lambda: win.shut_down, 30, "window shutdown")

        loop.run_until_complete(close())
    win.deleteLater()
    _flush_deletes()


def _patterns() -> list[Any]:
    try:
        from withscope.core import workloads

        return [(p, t, list(ws)) for p, t, ws in workloads.patterns()]
    except Exception:
        return []


def make_widget(qtbot: Any, widget: QWidget) -> QWidget:
    qtbot.addWidget(widget)
    return widget
