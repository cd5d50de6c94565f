"""The legend explains every style the timeline draws, and a bar's alert frame is not an outcome
style: it stands apart from the bar, so a leaked bar's critical alert never reads as the legend's
"released on error" (the same red, drawn on the bar's own edge)."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot
from test_timeline import add_rows, close_to, make_view
from withscope.gui.bridge.bridge import Bridge
from withscope.gui.style import theme as th
from withscope.gui.timeline.legend import ALERT, SELECTED, Legend
from withscope.gui.timeline.timeline import TimelineView


def _device_x(view: TimelineView, x: float, y: float) -> tuple[float, float]:
    vb = view.plot.getViewBox()
    p = view.plot.mapTo(view, view.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y))))
    return p.x(), p.y()


def _pixel(image: QImage, x: float, y: float) -> QColor:
    r = image.devicePixelRatio()
    return image.pixelColor(int(x * r), int(y * r))


def test_legend_lists_every_outcome_alert_severity_and_the_selection(qtbot: QtBot) -> None:
    legend = Legend()
    qtbot.addWidget(legend)
    legend.set_kinds(["file", "db.connection"])
    entries = legend._entries()
    styles = [style for _t, _c, style, title in entries if not title]
    assert set(th.OUTCOME_TEXT) <= set(styles)
    alerts = [(text, c.name()) for text, c, style, _ in entries if style == ALERT]
    assert alerts == [(sev, th.SEVERITY_COLOURS[sev].lower()) for sev in ("critical", "warning", "info")]
    assert SELECTED in styles
    assert [t for t, _c, style, title in entries if style is None and not title] == ["file", "db.connection"]
    legend.resize(1400, 40)
    legend.show()
    image = legend.grab().toImage()
    # the critical alert swatch shows the severity colour somewhere
    crit = QColor(th.SEVERITY_COLOURS["critical"])
    found = any(close_to(image.pixelColor(x, y), crit, 30)
                for x in range(image.width()) for y in range(image.height()))
    assert found


def test_an_alert_frame_stands_apart_from_the_bar_an_outcome_outline_is_on_its_edge(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    view.resize(900, 200)
    # GIVEN a leaked (open) bar with a critical alert, and a bar released on error without one
    add_rows(bridge, 0, [1.0, 1.0], [np.nan, 3.0], [th.OUT_OPEN, th.OUT_ERROR], ["file", "file"])
    bridge.now_s = lambda: 4.0  # type: ignore[method-assign]
    view.item.set_now(4.0)
    view.item.flag(0, "critical")
    view.set_follow(False)
    lay = view.layout_
    view.plot.getViewBox().setRange(xRange=(0, 4), yRange=(-0.5, 3), padding=0)
    view.item.refresh()
    image = view.grab().toImage()
    red = QColor(th.SEVERITY_COLOURS["critical"])
    assert red == QColor(th.OUTCOME_ACCENT[th.OUT_ERROR])  # same red: the shape must tell them apart
    bg = QColor(th.LIGHT.plot_background)

    # The leaked bar: background right outside its left edge, then the red frame further out
    x0, yc = _device_x(view, 1.0, float(lay.y[0]) + 0.5)
    assert close_to(_pixel(image, x0 - 1.5, yc), bg, 40)
    assert close_to(_pixel(image, x0 - 3.5, yc), red, 40)
    # The error bar: red on its own edge (its outcome outline), nothing outside
    x0e, yce = _device_x(view, 1.0, float(lay.y[1]) + 0.5)
    assert any(close_to(_pixel(image, x0e + dx, yce), red, 60) for dx in (-0.5, 0.5, 1.5))
    assert close_to(_pixel(image, x0e - 3.5, yce), bg, 40)


def test_a_legend_title_wraps_with_its_first_entry(qtbot: QtBot) -> None:
    """At any width, a title ("Outcome:", "Leak alert:", "Kind:") is on the row of its first entry."""
    from withscope.gui.timeline.legend import Legend

    legend = Legend()
    qtbot.addWidget(legend)
    legend.set_kinds(["db.connection", "file"])
    for width in range(320, 1200, 7):  # (narrower, a title and its first entry do not fit on one row)
        placed = legend._layout(width)
        for (_x, y, entry), (_x2, y2, _e2) in itertools.pairwise(placed):
            if entry[3]:
                assert y == y2, f"{entry[0]!r} alone at the end of a row at {width} px"
