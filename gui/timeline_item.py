"""`TimelineItem`: ONE pyqtgraph graphics item that paints every lifetime bar.

paint() reads the bridge's numpy columns, culls to the visible range, and draws batched
`QPainter.drawRects`/`drawLines` per (kind, outcome) style in device pixels - no item per bar,
cosmetic 1 px pens. Beyond `AGGREGATE_OVER` visible bars, bars shorter than two pixels are
pre-aggregated per pixel into one image (see `raster.py`), so a frame draws O(pixels), not O(bars).

Outcome styling (see `theme.OUTCOME_*`): kind colour everywhere; released bars muted; open bars
solid with a cap at "now" (they grow); released-with-error, exit-raised and gc bars outlined and
capped in their accent colour, gc bars hatched.

GUI thread only.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from . import theme as th
from .bridge import LifetimeStore
from .lanes import LaneLayout
from .raster import Raster, colour_table

AGGREGATE_OVER = 20_000  # visible bars beyond which sub-pixel bars are rasterised per pixel
BAR_FILL = 0.72  # fraction of a lane a bar covers
MISSING = -2


class _Prims:
    """Reusable QRectF / QLineF arrays backed by numpy (pyqtgraph's PrimitiveArray)."""

    def __init__(self) -> None:
        self.rects = internals.PrimitiveArray(QRectF, 4)
        self.lines = internals.PrimitiveArray(QLineF, 4)

    def draw_rects(self, p: QPainter, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: float | np.ndarray) -> None:
        n = len(x)
        if not n:
            return
        self.rects.resize(n)
        a = self.rects.ndarray()
        a[:, 0] = x
        a[:, 1] = y
        a[:, 2] = w
        a[:, 3] = h
        p.drawRects(*self.rects.drawargs())

    def draw_lines(self, p: QPainter, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> None:
        n = len(x0)
        if not n:
            return
        self.lines.resize(n)
        a = self.lines.ndarray()
        a[:, 0] = x0
        a[:, 1] = y0
        a[:, 2] = x1
        a[:, 3] = y1
        p.drawLines(*self.lines.drawargs())


def outcome_brushes(colour: QColor, outcome: int) -> list[QBrush]:
    """The fill brushes of a bar of `colour` with `outcome` (drawn in order)."""
    c = QColor(colour)
    if outcome == th.OUT_OPEN:
        return [QBrush(c)]
    if outcome == th.OUT_GC:
        faint = QColor(c)
        faint.setAlpha(70)
        hatch = QBrush(QColor(c).darker(115), Qt.BrushStyle.BDiagPattern)
        return [QBrush(faint), hatch]
    c.setAlpha(150)
    return [QBrush(c)]


def outcome_accent(outcome: int, theme: th.Theme) -> QColor | None:
    if outcome == th.OUT_OPEN:
        return QColor(theme.foreground)
    acc = th.OUTCOME_ACCENT.get(outcome)
    return None if acc is None else QColor(acc)


def paint_swatch(p: QPainter, rect: QRectF, colour: QColor, outcome: int, theme: th.Theme) -> None:
    """One bar drawn exactly as the timeline draws it (for the legend)."""
    p.setPen(Qt.PenStyle.NoPen)
    for b in outcome_brushes(colour, outcome):
        p.setBrush(b)
        p.drawRect(rect)
    acc = outcome_accent(outcome, theme)
    if acc is not None:
        if outcome != th.OUT_OPEN:
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(acc, 0))
            p.drawRect(rect)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(acc)
        p.drawRect(QRectF(rect.right() - 2, rect.top(), 2, rect.height()))


class TimelineItem(pg.GraphicsObject):
    """Paints `store` rows at `layout.y`, x from start to end (or to `now` while open)."""

    def __init__(self, store: LifetimeStore, layout: LaneLayout) -> None:
        super().__init__()
        self.store = store
        self.layout = layout
        self.now = 0.0
        self.theme = th.current()
        self.selected: int | None = None
        self.flags: dict[int, str] = {}  # row -> severity of the worst alert about it
        self._bounds = QRectF(0, 0, 1, 1)
        self._prims = _Prims()
        self._raster = Raster()
        self.last_drawn = 0  # bars (or aggregated cells) drawn by the last paint, for tests/benchmarks
        self.last_visible = 0
        self.last_paint_ms = 0.0  # cost of the last paint (the view throttles its frame rate with it)
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    # -------------------------------------------------------------- data
    def flag(self, row: int, severity: str) -> None:
        """Mark a bar as the subject of an alert (outlined in the severity colour)."""
        order = {"critical": 0, "warning": 1, "info": 2}
        old = self.flags.get(row)
        if old is None or order.get(severity, 9) < order.get(old, 9):
            self.flags[row] = severity

    def set_store(self, store: LifetimeStore, layout: LaneLayout) -> None:
        self.store = store
        self.layout = layout
        self.refresh()

    def set_now(self, now: float) -> None:
        self.now = now

    def set_theme(self, theme: th.Theme) -> None:
        self.theme = theme
        self.update()

    def data_bounds(self) -> tuple[float, float]:
        s = self.store
        if not s.n:
            return 0.0, max(self.now, 1.0)
        return s.min_start, max(s.max_end, self.now)

    def refresh(self) -> None:
        """Data or `now` changed: recompute bounds and schedule a repaint."""
        x0, x1 = self.data_bounds()
        b = QRectF(min(0.0, x0), -0.5, max(x1 - min(0.0, x0), 1e-6), self.layout.total_height + 1.0)
        if b != self._bounds:
            self.prepareGeometryChange()
            self._bounds = b
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    # -------------------------------------------------------------- picking
    def pick(self, x: float, y: float, tol_x: float) -> int | None:
        """Store row of the bar under (x, y) in data coordinates, within `tol_x` seconds."""
        n = self.store.n
        if not n:
            return None
        ys = self.layout.y[:n]
        start = self.store.start[:n]
        end = np.where(np.isnan(self.store.end[:n]), self.now, self.store.end[:n])
        pad = (1 - BAR_FILL) / 2
        hit = (y >= ys + pad - 0.1) & (y <= ys + 1 - pad + 0.1) & (start - tol_x <= x) & (end + tol_x >= x)
        hit &= self.store.outcome[:n] != MISSING
        rows = np.flatnonzero(hit)
        if not len(rows):
            return None
        dist = np.maximum(0.0, np.maximum(start[rows] - x, x - end[rows]))
        return int(rows[int(np.argmin(dist))])

    # -------------------------------------------------------------- painting
    def paint(self, p: QPainter, opt: Any, widget: Any = None) -> None:
        t0 = time.perf_counter()
        try:
            self._paint(p)
        finally:
            self.last_paint_ms = (time.perf_counter() - t0) * 1e3

    def _paint(self, p: QPainter) -> None:
        n = self.store.n
        vr = self.viewRect()
        if vr is None:
            return
        tr = p.transform()
        sx, dx, sy, dy = tr.m11(), tr.dx(), tr.m22(), tr.dy()
        if sx == 0 or sy == 0:
            return
        x_lo, x_hi = vr.left(), vr.right()
        y_lo, y_hi = min(vr.top(), vr.bottom()), max(vr.top(), vr.bottom())
        p.save()
        try:
            p.resetTransform()  # draw in device pixels from here on
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            self._paint_bands(p, sx, dx, sy, dy, x_lo, x_hi)
            if n:
                self._paint_bars(p, sx, dx, sy, dy, x_lo, x_hi, y_lo, y_hi)
        finally:
            p.restore()

    def _paint_bands(self, p: QPainter, sx: float, dx: float, sy: float, dy: float, x_lo: float, x_hi: float) -> None:
        left, right = sx * x_lo + dx, sx * x_hi + dx
        band = QColor(self.theme.band)
        grid = QPen(QColor(self.theme.grid), 0)
        for i, (_name, top, rows) in enumerate(self.layout.groups()):
            y0 = sy * (top - 0.15) + dy
            y1 = sy * (top + rows + 0.15) + dy
            if i % 2 == 0:
                p.fillRect(QRectF(left, min(y0, y1), right - left, abs(y1 - y0)), band)
            p.setPen(grid)
            ysep = sy * (top - 0.4) + dy
            if i:
                p.drawLine(QPointF(left, ysep), QPointF(right, ysep))

    def _paint_bars(
        self, p: QPainter, sx: float, dx: float, sy: float, dy: float,
        x_lo: float, x_hi: float, y_lo: float, y_hi: float,
    ) -> None:
        s = self.store
        n = s.n
        start = s.start[:n]
        end = s.end[:n]
        outcome = s.outcome[:n]
        ys = self.layout.y[:n]
        is_open = np.isnan(end)
        vis = start <= x_hi
        vis &= (end >= x_lo) | is_open  # NaN (open) compares False: open bars reach "now"
        if y_lo > -1.0 or y_hi < self.layout.total_height:
            vis &= (ys >= y_lo - 1.5) & (ys <= y_hi + 0.5)
        vis &= outcome != MISSING
        idx = np.flatnonzero(vis)
        self.last_visible = len(idx)
        if not len(idx):
            self.last_drawn = 0
            self._paint_overlays(p, sx, dx, sy, dy, max(1.0, abs(sy) * BAR_FILL), x_lo, x_hi)
            return
        sel: slice | np.ndarray = slice(0, n) if len(idx) == n else idx  # everything in view: no copies
        width = float(p.device().width()) if p.device() is not None else 1e4
        row_px = abs(sy)
        # device coordinates, clamped so huge zooms never overflow the raster engine
        px0 = np.clip(sx * start[sel] + dx, -8.0, width + 8.0)
        px1 = np.clip(sx * np.where(is_open[sel], self.now, end[sel]) + dx, -8.0, width + 8.0)
        pad = (1 - BAR_FILL) / 2
        top = sy * (ys[sel] + (pad if sy > 0 else 1 - pad)) + dy
        h = max(1.0, row_px * BAR_FILL)
        kind = s.kind[:n][sel]
        out = outcome[sel]
        w = np.maximum(px1 - px0, 1.0)
        raster_cells = 0
        if len(idx) > AGGREGATE_OVER:
            # Dense view: sub-pixel bars become pixels of one image; the others are drawn below.
            short = w < 2.0
            if short.any():
                dev = p.device()
                height = int(dev.height()) if dev is not None else 1
                lut = colour_table(s.kinds, self.theme)
                img = self._raster.rasterize(int(width), height, px0[short], top[short], h, kind[short],
                                             out[short], lut)
                p.drawImage(0, 0, img)
                raster_cells = self._raster.cells
                keep = ~short
                px0, w, top, kind, out, idx = px0[keep], w[keep], top[keep], kind[keep], out[keep], idx[keep]
        self.last_drawn = len(idx) + raster_cells
        if not len(idx):
            self._paint_overlays(p, sx, dx, sy, dy, h, x_lo, x_hi)
            return
        style = kind.astype(np.int64) * 8 + out + 2
        order = np.argsort(style, kind="stable")
        style = style[order]
        bounds = np.flatnonzero(np.diff(style)) + 1
        starts = np.concatenate([[0], bounds])
        stops = np.concatenate([bounds, [len(style)]])
        kinds = s.kinds
        thin = row_px < 3.0
        prims = self._prims
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            sel = order[a:b]
            st = int(style[a])
            k, o = st // 8, st % 8 - 2
            colour = th.kind_colour(kinds[k] if k < len(kinds) else "?")
            x, ww, yy = px0[sel], w[sel], top[sel]
            acc = outcome_accent(o, self.theme)
            if thin:
                pen_colour = acc if (acc is not None and o != th.OUT_OPEN) else colour
                p.setPen(QPen(pen_colour, 0))
                yc = yy + h / 2
                prims.draw_lines(p, x, yc, x + ww, yc)
                continue
            p.setPen(Qt.PenStyle.NoPen)
            for brush in outcome_brushes(colour, o):
                p.setBrush(brush)
                prims.draw_rects(p, x, yy, ww, h)
            if acc is not None:
                if o != th.OUT_OPEN:
                    p.setBrush(Qt.BrushStyle.NoBrush)
                    p.setPen(QPen(acc, 0))
                    prims.draw_rects(p, x, yy, np.maximum(ww - 1, 0.0), h - 1)
                    p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(acc)
                cap = np.minimum(ww, 2.0)
                prims.draw_rects(p, x + ww - cap, yy, cap, h)
        self._paint_overlays(p, sx, dx, sy, dy, h, x_lo, x_hi)

    def _end_of(self, rows: np.ndarray) -> np.ndarray:
        end = self.store.end[rows]
        return np.where(np.isnan(end), self.now, end)

    def _paint_overlays(self, p: QPainter, sx: float, dx: float, sy: float, dy: float, h: float,
                        x_lo: float, x_hi: float) -> None:
        if self.flags:
            self._paint_flags(p, sx, dx, sy, dy, h, x_lo, x_hi)
        if self.selected is not None and 0 <= self.selected < self.store.n:
            self._paint_selection(p, sx, dx, sy, dy, h)

    def _paint_flags(self, p: QPainter, sx: float, dx: float, sy: float, dy: float, h: float,
                     x_lo: float, x_hi: float) -> None:
        rows = np.fromiter(self.flags.keys(), np.int64, len(self.flags))
        rows = rows[rows < self.store.n]
        if not len(rows):
            return
        rows = rows[(self.store.start[rows] <= x_hi) & (self._end_of(rows) >= x_lo)]
        pad = (1 - BAR_FILL) / 2
        p.setBrush(Qt.BrushStyle.NoBrush)
        sev = np.array([self.flags[r] for r in rows.tolist()], dtype=object)
        for severity in ("info", "warning", "critical"):  # worst drawn last, on top
            sel = rows[sev == severity] if len(rows) else rows
            if not len(sel):
                continue
            pen = QPen(QColor(th.SEVERITY_COLOURS[severity]), 2)
            pen.setCosmetic(True)
            p.setPen(pen)
            x0 = sx * self.store.start[sel] + dx
            x1 = sx * self._end_of(sel) + dx
            y = sy * (self.layout.y[sel] + (pad if sy > 0 else 1 - pad)) + dy
            self._prims.draw_rects(p, x0, y, np.maximum(x1 - x0, 1.0), h)

    def _paint_selection(self, p: QPainter, sx: float, dx: float, sy: float, dy: float, h: float) -> None:
        r = self.selected
        assert r is not None
        pad = (1 - BAR_FILL) / 2
        x0 = sx * float(self.store.start[r]) + dx
        x1 = sx * float(self._end_of(np.array([r]))[0]) + dx
        y = sy * (float(self.layout.y[r]) + (pad if sy > 0 else 1 - pad)) + dy
        pen = QPen(QColor(self.theme.selection), 2)
        pen.setCosmetic(True)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(x0 - 2, y - 2, max(x1 - x0, 1.0) + 4, h + 4))
