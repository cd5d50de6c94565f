"""`MarksItem`: one graphics item drawing every run mark (run started / ended) as a vertical line.

Shared by the timeline and the metrics plots so both show where runs start and end. Start marks
are solid, end marks dashed; a short label is drawn at the top when there is room. GUI thread only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from withscope.core.marks import MarkKind, parse
from withscope.gui.style import theme as th

MAX_MARKS = 2000  # bounded: "Run 1000 times" keeps the newest marks


def classify_mark(text: str, run_name: str) -> tuple[str, bool] | None:
    """(label, is_end) of a runner mark as shown on time axes, or None to hide it.

    Shown: "run start" (solid, labelled with the run), "workload end" (dashed), and the end of
    each repeat of a repeated run (dashed). Hidden: repeat starts, "repeat 1/1 end", "cleanup".
    """
    info = parse(text)
    if info.kind is MarkKind.RUN_START:
        return run_name, False
    if info.kind is MarkKind.WORKLOAD_END or (info.kind is MarkKind.REPEAT_END and info.of > 1):
        return "", True
    if info.kind in (MarkKind.REPEAT_START, MarkKind.REPEAT_END, MarkKind.CLEANUP):
        return None
    return text, False


class MarksItem(pg.GraphicsObject):  # type: ignore[misc]  # pyqtgraph is untyped (Any)
    def __init__(self, *, labels: bool = True) -> None:
        super().__init__()
        self.t = np.zeros(0, np.float64)
        self.texts: list[str] = []
        self.ends: list[bool] = []
        self.labels = labels
        self.theme = th.current()
        self.setZValue(5)

    def set_marks(self, marks: list[tuple[float, str, bool]]) -> None:
        """(time s, label, is_end) per mark."""
        marks = marks[-MAX_MARKS:]
        self.prepareGeometryChange()
        self.t = np.array([m[0] for m in marks], np.float64)
        self.texts = [m[1] for m in marks]
        self.ends = [m[2] for m in marks]
        self.update()

    def add(self, marks: list[tuple[float, str, bool]]) -> None:
        self.set_marks([*zip(self.t.tolist(), self.texts, self.ends, strict=True), *marks])

    def clear(self) -> None:
        self.set_marks([])

    def set_theme(self, theme: th.Theme) -> None:
        self.theme = theme
        self.update()

    def boundingRect(self) -> QRectF:
        if not len(self.t):
            return QRectF()
        vr = self.viewRect()
        y0, h = (vr.top(), vr.height()) if vr is not None else (0.0, 1.0)
        lo, hi = float(self.t.min()), float(self.t.max())
        return QRectF(lo, y0, max(hi - lo, 1e-9), h)

    def viewRangeChanged(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def paint(self, p: QPainter, opt: Any, widget: Any = None) -> None:
        vr = self.viewRect()
        if vr is None or not len(self.t):
            return
        tr = p.transform()
        sx, dx = tr.m11(), tr.dx()
        top = min(tr.map(QPointF(0, vr.top())).y(), tr.map(QPointF(0, vr.bottom())).y())
        bottom = max(tr.map(QPointF(0, vr.top())).y(), tr.map(QPointF(0, vr.bottom())).y())
        vis = np.flatnonzero((self.t >= vr.left()) & (self.t <= vr.right()))
        p.save()
        p.resetTransform()
        colour = QColor(self.theme.muted)
        solid = QPen(colour, 0)
        dashed = QPen(colour, 0, Qt.PenStyle.DashLine)
        font = QFont(p.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        last_label = -1e9
        for i in vis.tolist():
            x = sx * float(self.t[i]) + dx
            text = self.texts[i]
            ending = self.ends[i]
            p.setPen(dashed if ending else solid)
            p.drawLine(QPointF(x, top), QPointF(x, bottom))
            if self.labels and text and x - last_label > 90:
                p.setPen(colour)
                p.drawText(QPointF(x + 3, top + 12), text[:40])
                last_label = x
        p.restore()
