"""GUI test fixtures (pytest-qt, offscreen).

- `_no_leaked_widgets_or_timers` (autouse): a test that leaves a parentless top-level widget alive
  or a QTimer running fails (napari's dangling-qtimer / leaked-widget checks).
- `loop`: a qasync `QEventLoop` on pytest-qt's single `qapp`. Tests drive asyncio from the
  synchronous test with `loop.run_until_complete(...)` (never qtbot waits inside a coroutine); at
  teardown left-over tasks are cancelled and every exception the loop swallowed fails the test.
- `window`: a `MainWindow` with throw-away settings, started the way the app starts it (its frame
  shown first, its views built on a later loop turn: `defer_views=True`), handed to the test once
  its views exist (`await win.ready()`); shut down properly (runs cancelled and awaited) at teardown.
"""

from __future__ import annotations

import asyncio
import traceback
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import withscope.gui  # noqa: F401  (pins PySide6 before pyqtgraph/qasync are imported)
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from qt_helpers import flush_deletes, shutdown_window

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

_IGNORED_TOPLEVEL = {"QTipLabel", "QWidgetWindow"}


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
    flush_deletes()
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
    flush_deletes()
    assert not leaked, f"test left top-level widgets behind: {[type(w).__name__ for w in leaked]}"
    assert not running, f"test left QTimers running: {[t.objectName() or repr(t) for t in running]}"


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    import qasync

    qapp.setQuitOnLastWindowClosed(False)  # as gui.app does: closing the window must not stop the loop
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
    assert not errors, "the loop swallowed exceptions:\n" + "\n".join(
        "".join(traceback.format_exception(e["exception"])) if e.get("exception") else str(e.get("message"))
        for e in errors)


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "withscope.ini"


@pytest.fixture
def window(qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path) -> Iterator[MainWindow]:
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.shell.settings import Settings

    patterns = _patterns()
    win = MainWindow(patterns=patterns, settings=Settings(settings_path), defer_views=True)
    win.resize(1400, 900)
    win.show()

    async def start() -> None:
        win.start()
        await win.ready()

    loop.run_until_complete(start())
    try:
        yield win
    finally:
        shutdown_window(loop, win)


def _patterns() -> list[Any]:
    from withscope.core import workloads

    return [(p, t, list(ws)) for p, t, ws in workloads.patterns()]


def make_widget(qtbot: QtBot, widget: QWidget) -> QWidget:
    qtbot.addWidget(widget)
    return widget
