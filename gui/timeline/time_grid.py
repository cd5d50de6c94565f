"""Vertical grid lines at the ticks of a time axis, drawn cheaply.

pyqtgraph draws a plot's grid as part of its axis: a full-size picture regenerated whenever the
range changes. Plots that share one x range (the timeline, the strip charts) would each regenerate
the same ticks. Here `TickCache` computes an axis' tick values once per range and size,
`paint_time_grid` draws them as 1 px lines in device pixels (fading by tick level, as
pyqtgraph's grid does), and `TimeGrid` is a graphics item that does so in a plot without a bottom
axis of its own. GUI thread only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QLineF, QPointF, QRectF
from PySide6.QtGui import QColor, QPainter, QPen
from withscope.gui.style import theme as th


class TickCache:
    """`axis.tickValues(lo, hi, length)`, recomputed only when its arguments change."""

    def __init__(self, axis: pg.AxisItem) -> None:
        self.axis = axis
        self._key: tuple[float, float, float] | None = None
        self._values: list[Any] = []

    def values(self, lo: float, hi: float, length: float) -> list[Any]:
        key = (lo, hi, length)
        if key != self._key:
            self._key = key
            self._values = self.axis.tickValues(lo, hi, length)
        return self._values


_lines = internals.PrimitiveArray(QLineF, 4)  # reused: GUI thread only


def paint_time_grid(p: QPainter, ticks: TickCache, sx: float, dx: float, top: float, bottom: float,
                    x_lo: float, x_hi: float, colour: QColor, alpha: float) -> None:
    """Lines from `top` to `bottom` (device pixels; x = sx * t + dx) at the ticks in [x_lo, x_hi]."""
    length = abs(sx * (x_hi - x_lo))
    if length <= 0:
        return
    for i, (_spacing, values) in enumerate(ticks.values(x_lo, x_hi, length)):
        if not len(values):
            continue
        c = QColor(colour)
        c.setAlpha(int(255 / (i + 1) * alpha * min(1.0, max(0.0, 0.05 * length / (len(values) + 1)))))
        p.setPen(QPen(c, 0))
        _lines.resize(len(values))
        a = _lines.ndarray()
        a[:, 0] = a[:, 2] = np.asarray(values, np.float64) * sx + dx
        a[:, 1] = top
        a[:, 3] = bottom
        p.drawLines(*_lines.drawargs())


class TimeGrid(pg.GraphicsObject):  # type: ignore[misc]  # pyqtgraph is untyped (Any)
    """The x grid of one plot (add it with `ignoreBounds=True`), at the ticks of `ticks`' axis -
    typically the bottom axis of another plot sharing the x range. With `edge`, also a line along
    the bottom, where the plot's own (hidden) bottom axis would be."""

    def __init__(self, ticks: TickCache, alpha: float = 0.2, *, edge: bool = False) -> None:
        super().__init__()
        self.ticks = ticks
        self.alpha = alpha
        self.edge = edge
        self.theme = th.current()
        self.setZValue(-10)  # behind the curves
        # Kept as a pixmap: the grid changes with the range or size only, the curves over it often.
        self.setCacheMode(self.CacheMode.DeviceCoordinateCache)

    def set_theme(self, theme: th.Theme) -> None:
        self.theme = theme
        self.update()

    def boundingRect(self) -> QRectF:
        vr = self.viewRect()
        return QRectF() if vr is None else QRectF(vr)

    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def paint(self, p: QPainter, opt: Any, widget: Any = None) -> None:
        vr = self.viewRect()
        if vr is None:
            return
        tr = p.transform()
        y0, y1 = tr.map(QPointF(0, vr.top())).y(), tr.map(QPointF(0, vr.bottom())).y()
        p.save()
        p.resetTransform()
        top, bottom = min(y0, y1), max(y0, y1)
        paint_time_grid(p, self.ticks, tr.m11(), tr.dx(), top, bottom, vr.left(), vr.right(),
                        QColor(self.theme.grid), self.alpha)
        if self.edge:
            p.setPen(QPen(QColor(self.theme.grid), 0))
            x0, x1 = tr.map(QPointF(vr.left(), 0)).x(), tr.map(QPointF(vr.right(), 0)).x()
            p.drawLine(QPointF(x0, bottom - 0.5), QPointF(x1, bottom - 0.5))
        p.restore()
