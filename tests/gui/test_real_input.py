"""Every view takes a user's input - clicks, double clicks, drags, wheel, hover, keys - before,
during and after runs and after Clear, on the whole window with the real runner.

Under `python3 dev.py test` these run on an Xvfb through Qt's xcb platform and the input goes
through the X server (xdotool, XTEST), as a desktop's does; offscreen they fall back to QTest
events. The first click into the timeline's scene after `class-cm/faulty` once killed the app
(SIGSEGV in libshiboken6: an instance attribute `flags` hid `QGraphicsItem.flags()`, which
pyqtgraph's scene calls on every press); `test_guard_*` keeps that class of bug out.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import os
import pkgutil
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QToolTip, QWidget
from qt_helpers import Mouse, close_window, real_x, settle, until
from withscope.gui.shell.app import RUN_MARK

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "gui_targets.py"
needs_x = pytest.mark.skipif(not real_x(), reason="needs an X server with Qt's xcb platform and xdotool "
                                                  "(python3 dev.py test starts Xvfb)")


async def run_to_end(win: Any, names: list[str], limit_s: float = 60) -> None:
    win.catalogue.select(names)
    win.catalogue.request_run()
    await until(lambda: not win.controller.is_running(), limit_s, f"{names} to end")
    await until(lambda: win.alerts.model.rowCount() > 0, 10, "an alert")
    await settle(0.3)  # a few frames: bars, charts and tables drawn


async def bar_point(win: Any, row: int) -> QPoint:
    """Viewport point on the middle of `row`'s bar (brought into view first)."""
    tl = win.timeline
    s = win.bridge.store
    end = float(s.end[row]) if not np.isnan(s.end[row]) else win.bridge.now_s()
    tl.highlight(row)
    await settle(0.1)
    vb = tl.plot.getViewBox()
    scene = vb.mapViewToScene(QPointF((float(s.start[row]) + end) / 2, float(tl.layout_.y[row]) + 0.5))
    point: QPoint = tl.plot.mapFromScene(scene)
    return point


def centre(w: QWidget) -> QPoint:
    return QPoint(w.width() // 2, w.height() // 2)


def viewport(w: QWidget) -> QWidget:
    return w.viewport() if isinstance(w, QAbstractScrollArea) else w


def every_view(win: Any) -> list[QWidget]:
    # (the catalogue's tree is clicked on its own: a double click there starts a run)
    views: list[QWidget] = [win.timeline.plot, win.alerts.table, win.details.view, win.catalogue.description]
    win.metrics.raise_()
    if win.metrics.graphics is not None:
        views.append(win.metrics.graphics)
    return views


def hand_on(w: QWidget) -> tuple[QWidget, QPoint, QPoint]:
    """Where a user's hand works on `w` (`Mouse.gestures`: click, double click, drag, wheel both
    ways, hover): its viewport's centre, dragged by a fifth and an eighth of it."""
    vp = viewport(w)
    return vp, centre(vp), QPoint(vp.width() // 5, vp.height() // 8)


async def poke_everything(mouse: Mouse, win: Any) -> None:
    await mouse.gestures([hand_on(w) for w in every_view(win) if w.isVisible()])
    win.throughput.raise_()
    await settle()
    await mouse.gestures([hand_on(w) for w in (win.throughput.graphics, getattr(win.throughput, "table", None),
                                               win.throughput.stack) if w is not None and w.isVisible()])
    win.metrics.raise_()
    await settle()
    assert not win.shut_down


def test_the_click_that_crashed_the_timeline_after_a_faulty_run(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:
    async def scenario() -> None:
        # GIVEN class-cm/faulty has finished (its leaked connections' bars are framed)
        await run_to_end(window, ["class-cm/faulty"])
        tl = window.timeline
        assert tl.item.alert_rows
        # WHEN the user clicks into the timeline's scene: on an empty spot, then on a framed bar
        mouse = Mouse()
        vp = tl.plot.viewport()
        await mouse.click(vp, QPoint(vp.width() // 2, 12))
        row = next(iter(tl.item.alert_rows))
        await mouse.click(vp, await bar_point(window, row))
        # THEN the app lives on, the bar is selected and the details show it
        assert tl.item.selected == row
        assert "db.connection" in window.details.view.toPlainText()
        # a double click and a drag on the bar, the wheel over it
        p = await bar_point(window, row)
        await mouse.click(vp, p, double=True)
        x_before = tl.plot.getViewBox().viewRange()[0]
        await mouse.drag(vp, p, p + QPoint(-120, 0))
        x_dragged = tl.plot.getViewBox().viewRange()[0]
        assert x_dragged[0] > x_before[0], "dragging left pans to later times"
        assert not tl.follow, "a manual pan stops following"
        await mouse.wheel(vp, p, 3)
        x_zoomed = tl.plot.getViewBox().viewRange()[0]
        assert x_zoomed[1] - x_zoomed[0] < x_dragged[1] - x_dragged[0], "the wheel zooms in"
        await close_window(window)

    loop.run_until_complete(scenario())


def test_hovering_a_bar_shows_its_tooltip(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> None:
        await run_to_end(window, ["class-cm/faulty"])
        tl = window.timeline
        row = next(iter(tl.item.alert_rows))
        mouse = Mouse()
        vp = tl.plot.viewport()
        p = await bar_point(window, row)
        await mouse.move(vp, p + QPoint(-4, 0))
        await mouse.move(vp, p)  # pyqtgraph's SignalProxy passes the latest move on after a short delay
        await until(QToolTip.isVisible, 5, "the tooltip")
        assert "db.connection" in QToolTip.text()
        assert "leaked" in QToolTip.text()
        # moving off every bar hides it
        await mouse.move(vp, QPoint(vp.width() - 5, 5))
        await until(lambda: not QToolTip.isVisible(), 5, "the tooltip to hide")
        await close_window(window)

    loop.run_until_complete(scenario())


def test_alerts_click_selects_highlights_and_keys_move(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> None:
        await run_to_end(window, ["class-cm/faulty"])
        table = window.alerts.table
        assert window.alerts.model.rowCount() >= 2
        mouse = Mouse()
        vp = table.viewport()
        second = table.visualRect(window.alerts.model.index(1, 2)).center()
        await mouse.click(vp, second)
        # THEN the row is selected (the whole row), the timeline highlights its bar, details show it
        sel = table.selectionModel()
        assert sel.isRowSelected(1)
        assert [i.row() for i in sel.selectedRows()] == [1]
        ra = window.alerts.model.rows[1]
        assert ra.alert.lifetime_id is not None
        row = window.bridge.store.row_of(ra.run, ra.alert.lifetime_id)
        assert window.timeline.item.selected == row
        assert ra.alert.rule in window.details.view.toPlainText()
        # the keyboard moves the selection; a double click does no harm
        await mouse.key(table, Qt.Key.Key_Up, "Up")
        assert sel.isRowSelected(0)
        await mouse.click(vp, second, double=True)
        assert sel.isRowSelected(1)
        await close_window(window)

    loop.run_until_complete(scenario())


def test_catalogue_click_describes_and_double_click_runs(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> None:
        tree = window.catalogue.tree
        mouse = Mouse()
        window.catalogue.select(["sockets/faulty"])  # scrolls to it
        item = tree.selectedItems()[0]
        tree.clearSelection()
        await settle()
        rect = tree.visualItemRect(item)
        await mouse.click(tree.viewport(), rect.center())
        assert window.catalogue.selected_names() == ["sockets/faulty"]
        assert "sockets/faulty" in window.catalogue.description.toPlainText()
        await mouse.click(tree.viewport(), rect.center(), double=True)
        await until(lambda: window.bridge.store.n > 0, 30, "the double-clicked workload to run")
        await until(lambda: not window.controller.is_running(), 60, "it to end")
        await close_window(window)

    loop.run_until_complete(scenario())


def test_every_view_takes_input_before_during_after_runs_and_after_clear(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:
    async def scenario() -> None:
        mouse = Mouse()
        # before any run: empty views
        await poke_everything(mouse, window)
        # during a run: three files held until stopped
        assert window.controller.start(f"{TARGETS}:hold_files")
        await until(lambda: window.bridge.store.n >= 3, 30, "three open files")
        await poke_everything(mouse, window)
        assert window.controller.is_running()
        stop = window.catalogue.stop_button
        assert stop.isEnabled()
        await mouse.click(stop, centre(stop))  # the catalogue's Stop button, clicked
        await until(lambda: not window.controller.is_running(), 30, "the run to stop")
        # after faulty runs, one of them streaming (the throughput plots have curves)
        await run_to_end(window, ["class-cm/faulty", "accumulation/faulty"])
        assert window.throughput.graphics is not None
        await poke_everything(mouse, window)
        # after Clear (the catalogue's button, clicked)
        button = window.catalogue.clear_button
        await mouse.click(button, centre(button))
        assert window.bridge.store.n == 0
        assert window.alerts.model.rowCount() == 0
        await poke_everything(mouse, window)
        vp = window.timeline.plot.viewport()
        await mouse.click(vp, centre(vp))
        assert window.timeline.item.selected is None
        await close_window(window)

    loop.run_until_complete(scenario())


@needs_x
def test_the_app_survives_the_issue_reproduction(tmp_path: Path) -> None:
    """The report's steps, verbatim: the app on the X display, `--run class-cm/faulty`, then
    `xdotool mousemove 700 300 click 1` once the run is over (and a few more clicks and keys)."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1", WITHSCOPE_STARTUP_MARK="1", XDG_CONFIG_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "withscope.gui.shell.launcher", "--run", "class-cm/faulty",
                             "--no-settings"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        assert wait_for_line(proc, RUN_MARK, 60).startswith(f"{RUN_MARK} class-cm/faulty")  # the run is over
        time.sleep(0.5)  # its last frames drawn
        steps = (["mousemove", "700", "300", "click", "1"], ["click", "--repeat", "2", "1"],
                 ["mousemove", "500", "400", "click", "4", "click", "5"], ["mousemove", "1400", "120", "click", "1"])
        for cmd in steps:
            subprocess.run(["xdotool", *cmd], check=True, timeout=15)
            time.sleep(0.5)
            assert proc.poll() is None, f"the app died ({proc.returncode}) after xdotool {' '.join(cmd)}: " \
                                        f"{proc.communicate(timeout=10)[1][-3000:]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def wait_for_line(proc: subprocess.Popen[str], start: str, limit_s: float) -> str:
    """The first line of `proc`'s stdout that starts with `start` (the earlier ones are read past)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        ready, _w, _x = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the app ended ({proc.wait()}) before {start!r}: {proc.communicate()[1][-3000:]}")
        if line.startswith(start):
            return line.strip()
    raise AssertionError(f"no {start!r} within {limit_s} s")


# ---------------------------------------------------------------- the class of bug that crashed
def _gui_classes() -> list[type]:
    import withscope.gui as gui

    found = []
    for info in pkgutil.walk_packages(gui.__path__, prefix="withscope.gui."):
        mod = importlib.import_module(info.name)
        for _n, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ == mod.__name__:
                found.append(cls)
    return found


def _assigned_names(source: str) -> set[str]:
    """Names the (first) class in `source` sets in its body, and its methods set on `self`."""
    body = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(body, ast.ClassDef)
    names: set[str] = set()
    for node in body.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names.add(node.target.id)
    for sub in ast.walk(body):
        targets: list[ast.expr] = []
        if isinstance(sub, ast.Assign):
            targets = list(sub.targets)
        elif isinstance(sub, ast.AnnAssign | ast.AugAssign):
            targets = [sub.target]
        for t in targets:
            for el in t.elts if isinstance(t, ast.Tuple) else [t]:
                if isinstance(el, ast.Attribute) and isinstance(el.value, ast.Name) and el.value.id == "self":
                    names.add(el.attr)
    return names


def _foreign_methods(cls: type) -> dict[str, str]:
    """Callable attributes (methods, signals) of `cls`'s Qt and pyqtgraph bases, by name."""
    out: dict[str, str] = {}
    for base in cls.__mro__[1:]:
        if base.__module__.startswith(("PySide6", "pyqtgraph", "shiboken6")):
            for name, value in vars(base).items():
                if not name.startswith("__") and callable(value):
                    out.setdefault(name, f"{base.__module__}.{base.__qualname__}")
    return out


def test_guard_no_gui_class_hides_a_method_of_its_qt_base() -> None:
    """An attribute named like a method of a Qt (or pyqtgraph) base replaces that method for every
    caller: Qt, pyqtgraph, PySide6's virtual dispatch. `TimelineItem.flags` (a dict) did, and the
    scene's `item.flags()` on a click crashed the app."""
    qt = [c for c in _gui_classes() if any(b.__module__.startswith(("PySide6", "shiboken6")) for b in c.__mro__[1:])]
    assert len(qt) > 20, "the GUI's Qt classes were found"
    clashes = []
    for cls in qt:
        methods = _foreign_methods(cls)
        for name in sorted(_assigned_names(inspect.getsource(cls)) & methods.keys()):
            clashes.append(f"{cls.__module__}.{cls.__qualname__}.{name} hides {methods[name]}.{name}()")
    assert not clashes, "\n".join(clashes)


def test_guard_finds_the_attribute_that_crashed() -> None:
    """The guard sees what crashed: `self.flags = {}` in a QGraphicsItem subclass."""
    import pyqtgraph as pg

    source = """
        class Item(pg.GraphicsObject):
            def __init__(self):
                super().__init__()
                self.flags = {}
    """
    ns: dict[str, Any] = {"pg": pg}
    exec(textwrap.dedent(source), ns)
    assert _assigned_names(source) & _foreign_methods(ns["Item"]).keys() == {"flags"}
