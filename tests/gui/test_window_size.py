"""The first window and its docks: sized from the screen (85 % of its available area, centred)
whenever no geometry was saved - `--no-settings` included - and laid out so the catalogue, the
timeline (its legend included), every column of the alerts table and the details read without
dragging a splitter, on a small (1280 x 800) and a common (1680 x 1050) screen.

Window sizes come from `first_geometry` of the screen sizes, so the same checks hold on Qt's
offscreen platform and on the Xvfb `python3 dev.py test` starts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from qt_helpers import close_window, flush_deletes, present, settle, until

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

SCREENS = [(1280, 800), (1680, 1050), (1920, 1080)]


def _main_window() -> Any:
    from withscope.gui.shell.main_window import MainWindow

    wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and not w.shut_down]
    return wins[0] if wins else None


def test_no_settings_opens_a_first_window_sized_from_the_screen(
    qapp: QApplication, loop: asyncio.AbstractEventLoop
) -> None:
    """`withscope --no-settings` (nothing saved, nothing restored) is a first window: 85 % of the
    screen's available area, centred - not a fixed size a small screen cannot show."""
    from withscope.gui.shell.app import Options, main
    from withscope.gui.shell.main_window import first_geometry

    opened: list[Any] = []

    async def scenario() -> tuple[QRect, QRect, int]:
        task = asyncio.ensure_future(main(Options(settings=False), qapp))
        await until(lambda: _main_window() is not None and _main_window().views_ready, 30, "the window")
        opened.append(win := _main_window())
        await settle(0.2)
        screen = win.screen() or QGuiApplication.primaryScreen()
        got, want = win.geometry(), first_geometry(screen.availableGeometry())
        await close_window(win)
        code = await task
        return got, want, code

    try:
        got, want, code = loop.run_until_complete(scenario())
    finally:
        for win in opened:
            win.deleteLater()
        flush_deletes()
    assert code == 0
    assert (got.width(), got.height()) == (want.width(), want.height())


@pytest.mark.parametrize(("sw", "sh"), SCREENS)
def test_first_window_reads_without_dragging(
    window: MainWindow, loop: asyncio.AbstractEventLoop, sw: int, sh: int
) -> None:
    """GIVEN the first window of a `sw` x `sh` screen after class-cm/faulty, THEN every column of
    the alerts table is within the table's width (no horizontal scrolling), the resource, site and
    hint columns wide enough to read, the details need no horizontal scrolling, the legend is on
    screen and leaves the lanes most of the timeline, the catalogue and the timeline are not
    squeezed."""
    from withscope.gui.shell.main_window import first_geometry

    geo = first_geometry(QRect(0, 0, sw, sh))

    async def scenario() -> None:
        window.resize(geo.width(), geo.height())
        window.reset_layout()
        window.catalogue.select(["class-cm/faulty"])
        window.catalogue.request_run()
        await until(lambda: not window.controller.is_running(), 60, "the run to end")
        await until(lambda: window.alerts.model.rowCount() > 0, 10, "an alert")
        await settle(0.4)

    loop.run_until_complete(scenario())
    w = window.width()
    table = window.alerts.table
    widths = [table.columnWidth(c) for c in range(window.alerts.model.columnCount())]
    assert sum(widths) <= table.viewport().width() + 1, (widths, table.viewport().width())
    assert table.horizontalScrollBar().maximum() == 0
    fm = table.fontMetrics()
    from withscope.gui.docks.alerts_dock import COLUMNS

    for name, width in zip(COLUMNS, widths, strict=True):
        assert width >= fm.horizontalAdvance(name) + 12, f"{name} column {width} px: its header is cut"
    resource, site, hint = (widths[COLUMNS.index(c)] for c in ("Resource", "Site", "Hint"))
    assert min(resource, site) >= fm.horizontalAdvance("db.connection ….sqlite3"), widths
    assert hint >= fm.horizontalAdvance("close it on every path"), widths
    details = window.details.view
    assert details.horizontalScrollBar().maximum() == 0
    assert details.width() >= fm.averageCharWidth() * 50  # a line of prose
    tl = window.timeline
    assert tl.legend.isVisible()
    assert tl.legend.width() >= 200, tl.legend.geometry()
    assert tl.legend.height() <= tl.height() // 4, (tl.legend.height(), tl.height())
    assert tl.plot.height() >= tl.height() * 0.6
    assert tl.width() >= 0.3 * w, (tl.width(), w)
    assert window.catalogue.width() <= 0.25 * w
    metrics = window.metrics
    if window.alerts in window.tabifiedDockWidgets(metrics):  # a small screen: alerts in front
        assert sw < 1600
        assert not window.alerts.visibleRegion().isEmpty()
    else:  # beside the alerts, with room for the strip charts
        assert metrics.width() >= 350, (metrics.width(), w)


@pytest.mark.parametrize("width", [500, 640, 900])
def test_alerts_columns_share_the_width_they_get(qtbot: QtBot, width: int) -> None:
    """A layout the user made (or restored) can leave the alerts dock narrower than its columns
    need: the long columns give way, the table never scrolls sideways, every header shows; a column
    the user dragged keeps its width."""
    from withscope.core import Alert, Severity
    from withscope.gui.bridge.bridge import Bridge, RunAlert
    from withscope.gui.docks.alerts_dock import AlertsDock

    bridge = Bridge()
    dock = AlertsDock(bridge)
    qtbot.addWidget(dock)
    bridge.alertsAdded.emit([RunAlert(0, Alert("suppressed-exception", Severity.CRITICAL, "m", "close it " * 20,
                                               None, "core/workloads/class_cm.py:39", ()), None)])
    dock.resize(width, 300)
    dock.show()
    qtbot.waitUntil(lambda: dock.table.viewport().width() > 0)
    qtbot.wait(50)
    table = dock.table
    assert table.horizontalScrollBar().maximum() == 0, [table.columnWidth(c) for c in range(6)]
    fixed, _least = dock.column_needs()
    assert [table.columnWidth(c) for c in (0, 1, 3)] == fixed
    table.horizontalHeader().resizeSection(2, 300)  # the user drags the resource column wider
    dock.resize(width + 100, 300)
    qtbot.wait(50)
    assert table.columnWidth(2) == 300
    dock.close_dock()


@pytest.mark.parametrize(("sw", "sh"), SCREENS[:2])
def test_a_tour_leaves_the_timeline_half_the_window(
    window: MainWindow, loop: asyncio.AbstractEventLoop, sw: int, sh: int
) -> None:
    """Opening the tour panel (F1) in a first window: the panel and the details take about a
    quarter of the width each, the timeline keeps about half, its legend a few rows."""
    from withscope.gui.shell.main_window import first_geometry

    geo = first_geometry(QRect(0, 0, sw, sh))

    async def scenario() -> None:
        window.resize(geo.width(), geo.height())
        window.reset_layout()
        await settle(0.2)
        window.features.tours.show_panel()
        await settle(0.4)

    loop.run_until_complete(scenario())
    w, tl, panel = window.width(), window.timeline, present(window.features.tours.panel)
    assert panel.isVisible()
    assert panel.width() >= 280
    assert tl.width() >= 0.42 * w, (tl.width(), panel.width(), window.details.width(), w)
    assert tl.legend.height() <= tl.height() // 4, (tl.legend.height(), tl.height())


def test_closing_the_tour_panel_gives_the_timeline_its_width_back(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:
    """The tour panel widened the left column; closed, the column is the catalogue's again (the
    window's layout, saved on quit, kept a 400 px catalogue for good)."""
    from withscope.gui.shell.main_window import dock_sizes, first_geometry

    geo = first_geometry(QRect(0, 0, 1680, 1050))

    async def scenario() -> tuple[int, int]:
        window.resize(geo.width(), geo.height())
        window.reset_layout()
        await settle(0.2)
        before = window.timeline.width()
        window.features.tours.show_panel()
        await settle(0.3)
        present(window.features.tours.panel).close()
        await settle(0.3)
        return before, window.catalogue.width()

    before, catalogue = loop.run_until_complete(scenario())
    assert catalogue <= dock_sizes(window.width(), window.height())["catalogue"] + 30  # (its least width)
    assert window.timeline.width() >= before - 30
