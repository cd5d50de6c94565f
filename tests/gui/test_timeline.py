"""Timeline: one item draws every bar; outcome styling, culling/aggregation, hover, click, grouping."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot
from withscope.gui.bridge.bridge import Bridge, LifetimeDelta
from withscope.gui.style import theme as th
from withscope.gui.timeline.timeline import TimelineView
from withscope.gui.timeline.timeline_item import TimelineItem


def add_rows(bridge: Bridge, run: int, starts: list[float], ends: list[float], outcomes: list[int],
             kinds: list[str]) -> LifetimeDelta:
    """Append hand-made rows to the bridge's store and publish them like a tick would."""
    s = bridge.store
    ids = np.arange(s.n, s.n + len(starts), dtype=np.int64)
    kind_ids = np.array([s.kind_id(k) for k in kinds], np.int16)
    lo, hi = s.append(run, ids, np.array(starts, float), np.array(ends, float), np.array(outcomes, np.int8), kind_ids)
    delta = LifetimeDelta(lo, hi, np.zeros(0, np.int64))
    bridge.lifetimesChanged.emit(delta)
    return delta


def make_view(qtbot: QtBot, bridge: Bridge) -> TimelineView:
    th.apply(th.LIGHT)
    view = TimelineView(bridge)
    qtbot.addWidget(view)
    view.resize(900, 420)
    view.show()
    qtbot.waitExposed(view)
    return view


def pixel_of(view: TimelineView, image: QImage, x: float, y: float) -> QColor:
    vb = view.plot.getViewBox()
    scene = vb.mapViewToScene(QPointF(x, y))
    p = view.plot.mapFromScene(scene)
    p = view.plot.mapTo(view, p)
    ratio = image.devicePixelRatio()
    return image.pixelColor(int(p.x() * ratio), int(p.y() * ratio))


def close_to(a: QColor, b: QColor, tol: int = 40) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) <= tol


def test_timeline_draws_every_bar_in_one_item_with_outcome_styles(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    assert view.empty.isVisible()
    # GIVEN five lifetimes, one per outcome, of kind "file" (open, released, error, exit-raised, gc)
    add_rows(bridge, 0, [0, 1, 2, 3, 4], [np.nan, 2, 3, 4, 5], [-1, 0, 1, 2, 3], ["file"] * 5)
    bridge.now_s = lambda: 6.0  # type: ignore[method-assign]
    view.item.set_now(6.0)
    view.set_follow(False)
    view.plot.getViewBox().setRange(xRange=(0, 6), yRange=(-0.5, 5), padding=0)
    # THEN the timeline holds exactly one bar item, laid out in non-overlapping rows
    items = [i for i in view.plot.getPlotItem().items if isinstance(i, TimelineItem)]
    assert items == [view.item]
    assert not view.empty.isVisible()
    assert view.layout_.n == 5
    # WHEN it is rendered
    image = view.grab().toImage()
    assert view.item.last_visible == 5
    assert view.item.last_drawn == 5
    file_colour = th.kind_colour("file")
    lay = view.layout_
    centre = {o: (float(bridge.store.start[i]) + 0.5, float(lay.y[i]) + 0.5) for i, o in enumerate([-1, 0, 1, 2, 3])}
    # THEN the open bar is solid kind colour, grows to "now" (x=5.9 is still inside it)
    assert close_to(pixel_of(view, image, *centre[-1]), file_colour, 10)
    assert close_to(pixel_of(view, image, 5.55, float(lay.y[0]) + 0.5), file_colour, 30)
    # released bars are muted (blended with the background), not solid
    released = pixel_of(view, image, *centre[0])
    assert not close_to(released, file_colour, 10)
    assert not close_to(released, QColor(th.LIGHT.plot_background), 10)
    # the gc bar is hatched: its pixels are not uniform
    y_gc = float(lay.y[4]) + 0.5
    gc_pixels = {pixel_of(view, image, 4.0 + k * 0.01, y_gc).rgb() for k in range(20, 80)}
    assert len(gc_pixels) > 1
    # the error bar ends in its red accent cap
    end_err = pixel_of(view, image, 3.0 - 0.004, float(lay.y[2]) + 0.5)
    assert end_err.red() > 180
    assert end_err.green() < 140


def test_open_bars_grow_with_now(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    add_rows(bridge, 0, [0.0], [np.nan], [-1], ["socket"])
    view.item.set_now(1.0)
    view.item.refresh()
    first = view.item.boundingRect().width()
    view.item.set_now(3.0)
    view.item.refresh()
    assert view.item.boundingRect().width() > first
    assert view.item.pick(2.5, float(view.layout_.y[0]) + 0.5, 0.01) == 0


def test_many_bars_are_culled_and_aggregated(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    n = 40_000
    starts = np.linspace(0, 10, n)
    ends = starts + 1e-5  # far narrower than a pixel
    add_rows(bridge, 0, starts.tolist(), ends.tolist(), [0] * n, ["file"] * n)
    view.finish_layout()  # lanes are placed in time slices; however slow the machine, place them all
    view.set_follow(False)
    vb = view.plot.getViewBox()
    vb.setRange(xRange=(0, 10), yRange=(-0.5, 3), padding=0)
    view.grab()
    assert view.item.last_visible == n
    assert 0 < view.item.last_drawn < 5000  # one cell per pixel column, not one rect per bar
    # zoomed in: culled to what is visible, drawn one by one
    vb.setRange(xRange=(1.0, 1.001), padding=0)
    view.grab()
    assert 0 < view.item.last_visible < 100
    assert view.item.last_drawn == view.item.last_visible


def test_hover_text_click_selection_and_grouping(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    add_rows(bridge, 0, [0.0, 0.5], [1.0, 2.0], [0, 1], ["file", "socket"])
    add_rows(bridge, 1, [0.2], [0.4], [3], ["file"])
    view.set_follow(False)
    text = view.describe(1)
    assert "socket" in text
    assert "released on error" in text
    assert "1.50 s" in text
    # lanes by kind: two groups; by run: one group per run name
    assert [g[0] for g in view.layout_.groups()] == ["file", "socket"]
    view.set_group_by("run")
    assert [g[0] for g in view.layout_.groups()] == ["run 0", "run 1"]
    assert view.group_combo.currentIndex() == 1
    view.set_group_by("kind")
    # clicking a bar selects it and emits its row
    vb = view.plot.getViewBox()
    vb.setRange(xRange=(0, 2), yRange=(-0.5, 4), padding=0)
    row = 1
    with qtbot.waitSignal(view.selected) as blocker:
        scene = vb.mapViewToScene(QPointF(1.0, float(view.layout_.y[row]) + 0.5))
        ev = type("Ev", (), {"scenePos": lambda self: scene})()
        view._on_click(ev)
    assert blocker.args == [row]
    assert view.item.selected == row
    # highlight (from an alert) brings the bar into view and stops following
    view.set_follow(True)
    view.highlight(2)
    assert not view.follow
    assert view.item.selected == 2
    (x0, x1), _ = vb.viewRange()
    assert x0 <= 0.2 <= x1


def test_follow_keeps_the_newest_data_in_view_and_manual_pan_stops_it(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    add_rows(bridge, 0, [0.0, 50.0], [1.0, 60.0], [0, 0], ["file", "file"])
    assert view.follow
    view._follow()
    (x0, x1), _ = view.plot.getViewBox().viewRange()
    assert x0 < 60 <= x1
    view.plot.getViewBox().sigRangeChangedManually.emit([True, True])
    assert not view.follow
    assert not view.follow_button.isChecked()


def test_theme_switch_recolours_the_plot(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    th.apply(th.DARK)
    try:
        assert view.item.theme.name == "dark"
        image = view.plot.grab().toImage()
        bg = image.pixelColor(image.width() - 5, 5)
        assert bg.lightness() < 80
    finally:
        th.apply(th.LIGHT)
    assert isinstance(view.plot, pg.PlotWidget)


def test_an_empty_timeline_names_no_lanes(qtbot: QtBot) -> None:
    """Before the first run the lane axis is blank (it counted 0..8 down the empty plot)."""
    view = TimelineView(Bridge())
    qtbot.addWidget(view)
    levels = view.left_axis._tickLevels  # what the axis draws instead of counting (None: it counts)
    assert levels is not None
    assert all(not ticks for ticks in levels), levels
