"""`TimelineItem`: ONE pyqtgraph graphics item that paints every lifetime bar, from a cache.

A closed bar never changes, so closed bars are rendered once into two device-sized layers that
every paint blits:

- a `Raster` (raster.py): bars narrower than two pixels, pre-aggregated per pixel with numpy
  (O(pixels) to draw, a few ms to build for a million bars);
- a vector `QImage`: wider bars, painted with batched `drawRects`/`drawLines` per (kind, outcome)
  style in device pixels (cosmetic 1 px pens, see bar_style.py).

The layers are rebuilt only when the scale, the device, the lane layout or the theme changes.
New closed bars (appended, or released since) are drawn into them incrementally; a pan by whole
pixels (the follow mode scrolls that way) shifts them and renders only the uncovered columns.
Open bars (they grow to "now" every frame), alert frames and the selection are painted over the
layers on every paint. While only bars change, `refresh()` repaints just the strip from the
earliest start among them to the right edge (where "now" is). Devices that are not pixel
buffers (SVG export) get plain vector drawing.

GUI thread only.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals
from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget
from withscope.gui.model.bridge_data import LifetimeStore
from withscope.gui.model.lanes import LaneLayout
from withscope.gui.style import theme as th
from withscope.gui.timeline.bar_style import ALERT_INSETS, outcome_accent, outcome_brushes, paint_swatch
from withscope.gui.timeline.raster import KIND_BITS, PRIORITY, Raster, bar_codes, colour_table
from withscope.gui.timeline.time_grid import TickCache, paint_time_grid

__all__ = ["BAR_FILL", "OPEN_REDUCE_OVER", "TimelineItem", "outcome_accent", "outcome_brushes", "paint_swatch"]

BAR_FILL = 0.72  # fraction of a lane a bar covers
MISSING = -2
OPEN_REDUCE_OVER = 2000  # visible open bars beyond which those sharing a pixel row are merged
_OPEN_CODE = PRIORITY[th.OUT_OPEN] << KIND_BITS
_CLAMP = 8.0  # device px beyond the edges that bar ends are clamped to (no raster overflow)
GRID_ALPHA = 0.25  # opacity of the vertical grid lines at the time axis' ticks


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


class _Geometry:
    """Where bars land on a device: x = sx * t + dx, bar top = sy * y + top0, in device pixels."""

    __slots__ = ("bar_h", "dpr", "dx", "height", "sx", "sy", "thin", "top0", "width")

    def __init__(self, width: int, height: int, dpr: float, sx: float, dx: float, sy: float, dy: float) -> None:
        self.width, self.height, self.dpr = width, height, dpr
        self.sx, self.dx, self.sy = sx, dx, sy
        pad = (1 - BAR_FILL) / 2
        self.top0 = sy * (pad if sy > 0 else 1 - pad) + dy
        row_px = abs(sy)
        self.bar_h = max(1, round(row_px * BAR_FILL))
        self.thin = row_px < 3.0 * dpr

    def same_but_dx(self, o: _Geometry) -> bool:
        return (
            self.width == o.width
            and self.height == o.height
            and self.dpr == o.dpr
            and abs(self.sx - o.sx) <= 1e-9 * abs(o.sx)
            and abs(self.sy - o.sy) <= 1e-9 * abs(o.sy)
            and abs(self.top0 - o.top0) <= 1e-6
        )


class _Layers:
    """The cached rendering of closed bars for one geometry (see the module docstring)."""

    def __init__(self, geo: _Geometry, token: tuple[Any, ...], old: _Layers | None = None) -> None:
        self.geo = geo
        self.token = token  # (store, layout version, theme): anything else changing = rebuild
        # Buffers of the layers this one replaces are reused (no allocation, no page faults).
        self.raster: Raster = old.raster if old is not None else Raster()
        self.raster.reset(geo.width, geo.height, geo.bar_h)
        if old is not None and old.vector.size() == QSize(geo.width, geo.height):
            self.vector: QImage = old.vector
        else:
            self.vector = QImage(geo.width, geo.height, QImage.Format.Format_ARGB32_Premultiplied)
        self.vector.fill(0)
        self.upto = 0  # store rows below this have been considered (closed ones are drawn)
        self.lut = np.zeros(1, np.uint32)
        self.lut_kinds = -1
        self.visible = 0
        self.drawn = 0

    def shift(self, k: int) -> None:
        self.raster.shift(k)
        px = np.frombuffer(self.vector.bits(), np.uint32).reshape(self.geo.height, self.geo.width)
        if abs(k) >= self.geo.width:
            px.fill(0)
        elif k > 0:
            px[:, k:] = px[:, :-k]
            px[:, :k] = 0
        elif k < 0:
            px[:, :k] = px[:, -k:]
            px[:, k:] = 0
        self.geo.dx += k


class TimelineItem(pg.GraphicsObject):  # type: ignore[misc]  # pyqtgraph is untyped (Any)
    """Paints `store` rows at `layout.y`, x from start to end (or to `now` while open).

    Only rows the layout has placed (`layout.n`) are drawn. The owner calls `on_delta()` for
    every store change (the view does, from `Bridge.lifetimesChanged`) and `refresh()` when data
    or "now" moved.
    """

    def __init__(self, store: LifetimeStore, layout: LaneLayout) -> None:
        super().__init__()
        self.store = store
        self.layout = layout
        self.now = 0.0
        self.theme = th.current()
        self.selected: int | None = None
        # row -> severity of the worst alert about it. Not named `flags`: that would shadow
        # QGraphicsItem.flags(), which the scene calls on every click (a TypeError raised inside a
        # Qt virtual crashed PySide6 6.11 in its error reporting).
        self.alert_rows: dict[int, str] = {}
        # Vertical grid lines at this axis' ticks, drawn here behind the bars: the axis' own
        # grid is a full-height picture replayed on every paint (2-8 ms).
        self.grid_axis: pg.AxisItem | None = None
        self._grid_ticks: TickCache | None = None
        self._bounds = QRectF(0, 0, 1, 1)
        # Damage since the last refresh(): bars changed from `_damage_lo` (s) rightwards, or all.
        self._damage_lo = math.inf
        self._damage_all = True
        self._damage_token: tuple[int, int, int] = (0, -1, -1)  # (store, layout version, rows placed)
        self._prims = _Prims()
        self._colours: dict[str, QColor] = {}
        self._reset_rows()
        self.last_drawn = 0  # bars (or aggregated cells) drawn by the last full render, for tests/benchmarks
        self.last_visible = 0
        self.last_paint_ms = 0.0  # cost of the last paint (the view throttles its frame rate with it)
        self.renders = 0  # full renders of the cached layers (for tests/benchmarks)
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def _reset_rows(self) -> None:
        self._damage_all = True
        self._code = np.zeros(0, np.int32)  # raster code per store row (bar_codes)
        self._dur = np.zeros(0, np.float64)  # end - start per store row; NaN: open or withdrawn
        self._known = 0  # rows whose code is known
        self._open = np.zeros(0, np.int64)  # rows open now (sorted)
        self._pending: list[np.ndarray] = []  # rows closed since they were appended open
        self._layers: _Layers | None = None

    # -------------------------------------------------------------- data
    def flag(self, row: int, severity: str) -> None:
        """Mark a bar as the subject of an alert (outlined in the severity colour)."""
        order = {"critical": 0, "warning": 1, "info": 2}
        old = self.alert_rows.get(row)
        if old is None or order.get(severity, 9) < order.get(old, 9):
            self.alert_rows[row] = severity
            if 0 <= row < self.store.n:
                self._damage(float(self.store.start[row]))

    def set_store(self, store: LifetimeStore, layout: LaneLayout) -> None:
        self.store = store
        self.layout = layout
        self._reset_rows()
        self.refresh()

    def on_delta(self, lo: int, hi: int, updated: np.ndarray) -> None:
        """Store rows `lo..hi-1` were appended, `updated` rows changed end/outcome."""
        self._catch_up(hi)
        s = self.store
        if hi > lo:
            self._damage(float(s.start[lo:hi].min()))
        if len(updated):
            self._damage(float(s.start[updated].min()))
            rows = updated[(updated >= 0) & (updated < self._known)]
            self._code[rows] = bar_codes(s.kind[rows], s.outcome[rows])
            self._dur[rows] = self._durations(rows)
            closed = rows[s.outcome[rows] != th.OUT_OPEN]
            if len(closed) and len(self._open):
                self._open = self._open[~np.isin(self._open, closed)]
            self._pending.append(closed[s.outcome[closed] != MISSING])

    def _catch_up(self, n: int) -> None:
        """Codes and open rows of store rows appended since the last call."""
        lo = self._known
        if n <= lo:
            return
        s = self.store
        if len(self._code) < n:
            cap = max(n, 2 * len(self._code), 4096)
            code, dur = np.zeros(cap, np.int32), np.zeros(cap, np.float64)
            code[:lo], dur[:lo] = self._code[:lo], self._dur[:lo]
            self._code, self._dur = code, dur
        self._code[lo:n] = bar_codes(s.kind[lo:n], s.outcome[lo:n])
        self._dur[lo:n] = self._durations(slice(lo, n))
        opened = np.flatnonzero(s.outcome[lo:n] == th.OUT_OPEN)
        if len(opened):
            self._open = np.concatenate([self._open, opened + lo])
        self._known = n

    def _durations(self, rows: slice | np.ndarray) -> np.ndarray:
        s = self.store
        dur = s.end[rows] - s.start[rows]
        dur[(s.outcome[rows] == th.OUT_OPEN) | (s.outcome[rows] == MISSING)] = np.nan
        return dur

    def invalidate(self) -> None:
        """Drop the cached layers: the next paint renders every bar afresh."""
        self._layers = None
        self._pending.clear()
        self._damage_all = True
        self.update()

    def set_now(self, now: float) -> None:
        if now != self.now:
            self._damage(min(now, self.now))  # open bars grow from the old "now" on
        self.now = now

    def set_theme(self, theme: th.Theme) -> None:
        self.theme = theme
        self._damage_all = True
        self.update()

    def data_bounds(self) -> tuple[float, float]:
        s = self.store
        if not s.n:
            return 0.0, max(self.now, 1.0)
        return s.min_start, max(s.max_end, self.now)

    def refresh(self) -> None:
        """Data or `now` changed: recompute bounds and schedule a repaint - of the strip from the
        earliest start among the bars that changed to the right edge, when only bars changed."""
        x0, x1 = self.data_bounds()
        left, height = min(0.0, x0), self.layout.total_height + 1.0
        b = self._bounds
        if left != b.left() or height != b.height() or x1 > b.right():
            # The right edge keeps some slack: a bounding rect that changed every frame would
            # repaint the whole item every frame.
            span = max(x1 - left, 1e-6)
            self.prepareGeometryChange()
            self._bounds = QRectF(left, -0.5, span + max(0.5, span / 4), height)
            self._damage_all = True
        n, placed_before = self._placed(), self._damage_token[2]
        if 0 <= placed_before < n:  # rows laid out since (appended, or laid out in slices later)
            self._damage(float(self.store.start[placed_before:n].min()))
        token = (id(self.store), self.layout.version, n)
        if self._damage_all or token[:2] != self._damage_token[:2] or n < placed_before:
            self.update()
        elif self._damage_lo < math.inf:
            b = self._bounds
            pad = (4 - ALERT_INSETS[-1]) * (self.pixelWidth() or 0.0) + 1e-9  # bar ends, alert frames
            lo = max(b.left(), self._damage_lo - pad)
            self.update(QRectF(lo, b.top(), max(b.right() - lo, 1e-9), b.height()))
        self._damage_token = token
        self._damage_all = False
        self._damage_lo = math.inf

    def _damage(self, t: float) -> None:
        """Pixels from `t` (seconds) rightwards changed."""
        if t < self._damage_lo:
            self._damage_lo = t

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def _placed(self) -> int:
        return min(self.store.n, self.layout.n)

    # -------------------------------------------------------------- picking
    def pick(self, x: float, y: float, tol_x: float) -> int | None:
        """Store row of the bar under (x, y) in data coordinates, within `tol_x` seconds."""
        n = self._placed()
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
        vr = self.viewRect()
        if vr is None:
            return
        tr = p.transform()
        sx, dx, sy, dy = tr.m11(), tr.dx(), tr.m22(), tr.dy()
        if sx == 0 or sy == 0:
            return
        n = self._placed()
        self._catch_up(self.store.n)
        y_lo, y_hi = min(vr.top(), vr.bottom()), max(vr.top(), vr.bottom())
        view = (vr.left(), vr.right(), y_lo, y_hi)
        dev = p.device()
        p.save()
        try:
            p.resetTransform()  # draw in device pixels from here on
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            self._paint_bands(p, sx, dx, sy, dy, vr.left(), vr.right())
            self._paint_grid(p, sx, dx, sy * y_lo + dy, sy * y_hi + dy, vr.left(), vr.right())
            visible = drawn = 0
            if n:
                if isinstance(dev, QWidget | QImage | QPixmap):
                    visible, drawn = self._paint_cached(p, dev, sx, dx, sy, dy, view, n)
                else:  # e.g. an SVG generator: real vector shapes, nothing cached
                    visible, drawn = self._paint_direct(p, dev, sx, dx, sy, dy, view, n)
                v_open, d_open = self._paint_open(p, sx, dx, sy, dy, view, n)
                visible, drawn = visible + v_open, drawn + d_open
            self.last_visible, self.last_drawn = visible, drawn
            h = max(1.0, abs(sy) * BAR_FILL)
            self._paint_overlays(p, sx, dx, sy, dy, h, vr.left(), vr.right())
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

    def _paint_grid(self, p: QPainter, sx: float, dx: float, top: float, bottom: float,
                    x_lo: float, x_hi: float) -> None:
        """Vertical lines at the ticks of `grid_axis`, fading by tick level (as pyqtgraph's grid)."""
        ax = self.grid_axis
        if ax is None:
            return
        if self._grid_ticks is None or self._grid_ticks.axis is not ax:
            self._grid_ticks = TickCache(ax)  # the range moves in steps: the ticks rarely change
        paint_time_grid(p, self._grid_ticks, sx, dx, top, bottom, x_lo, x_hi, QColor(self.theme.grid), GRID_ALPHA)

    # ---- closed bars: cached layers
    def _paint_cached(self, p: QPainter, dev: Any, sx: float, dx: float, sy: float, dy: float,
                      view: tuple[float, float, float, float], n: int) -> tuple[int, int]:
        """Blit the cached layers of closed bars (brought up to date first); (visible, drawn)."""
        dpr = float(dev.devicePixelRatioF())
        if isinstance(dev, QWidget):
            w_log, h_log = dev.width(), dev.height()
        else:
            size = dev.deviceIndependentSize()
            w_log, h_log = size.width(), size.height()
        geo = _Geometry(max(1, round(w_log * dpr)), max(1, round(h_log * dpr)), dpr,
                        sx * dpr, dx * dpr, sy * dpr, dy * dpr)
        token = (id(self.store), self.layout.version, self.theme.name)
        # What the layers hold is decided by device columns, never by the view's x range (the two
        # differ by a fraction of a pixel at the edges): a shifted layer equals a fresh one.
        view = (-geo.dx / geo.sx, (geo.width - geo.dx) / geo.sx, view[2], view[3])
        lay = old = self._layers
        if lay is not None and lay.token == token and lay.geo.same_but_dx(geo):
            shift = geo.dx - lay.geo.dx
            k = round(shift)
            if abs(shift - k) > 1e-6 or abs(k) >= geo.width:
                lay = None
            elif k:
                lay.shift(k)
                c0, c1 = (0, k) if k > 0 else (geo.width + k, geo.width)
                self._render(lay, self._strip_rows(lay, c0, c1, view[2:], lay.upto), c0, c1)
        else:
            lay = None
        if lay is None:
            lay = self._layers = _Layers(geo, token, old)
            self._pending.clear()
            self._render(lay, None, 0, geo.width, view=view, upto=n)
            self.renders += 1
        else:
            self._render_new(lay, view, n)
        img = lay.raster.image()
        vec = lay.vector
        vec.setDevicePixelRatio(dpr)
        img.setDevicePixelRatio(dpr)
        # Long bars under the per-pixel layer: a sub-pixel error bar stays visible next to them.
        p.drawImage(QPointF(0, 0), vec)
        p.drawImage(QPointF(0, 0), img)
        vec.setDevicePixelRatio(1.0)
        return lay.visible, lay.drawn

    def _render_new(self, lay: _Layers, view: tuple[float, float, float, float], n: int) -> None:
        """Draw closed bars the layers have not seen: appended rows and rows released since."""
        parts = []
        if n > lay.upto:
            parts.append(np.arange(lay.upto, n, dtype=np.int64))
        for rows in self._pending:
            parts.append(rows[rows < lay.upto])
        self._pending.clear()
        lay.upto = max(lay.upto, n)
        if not parts:
            return
        rows = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if len(rows):
            self._render(lay, self._cull(rows, view), 0, lay.geo.width)

    def _cull(self, rows: np.ndarray, view: tuple[float, float, float, float]) -> np.ndarray:
        """Closed, drawable rows among `rows` that intersect the view."""
        s = self.store
        x_lo, x_hi, y_lo, y_hi = view
        code = self._code[rows]
        ys = self.layout.y[rows]
        keep = (code > 0) & (code < _OPEN_CODE) & (s.start[rows] <= x_hi) & (s.end[rows] >= x_lo)
        keep &= (ys >= y_lo - 1.5) & (ys <= y_hi + 0.5)
        kept: np.ndarray = rows[keep]
        return kept

    def _strip_rows(self, lay: _Layers, c0: int, c1: int, y_range: tuple[float, float], n: int) -> np.ndarray:
        """Rows that may show in device columns [c0, c1) after a shift."""
        geo = lay.geo
        t0 = (c0 - 2 - geo.dx) / geo.sx
        t1 = (c1 + 1 - geo.dx) / geo.sx
        if geo.sx < 0:
            t0, t1 = t1, t0
        s = self.store
        cand = np.flatnonzero((s.start[:n] <= t1) & (s.end[:n] >= t0))
        return self._cull(cand, (t0, t1, *y_range))

    def _render(self, lay: _Layers, rows: np.ndarray | None, c0: int, c1: int, *,
                view: tuple[float, float, float, float] | None = None, upto: int = 0) -> None:
        """Draw closed bars into the layers, device columns [c0, c1) only: `rows` (already culled
        to the view), or - `rows` None - every placed row below `upto` (a full render of `view`).

        Bars shorter than 2 px go to the raster (those outside the device fall off its edges, no
        culling pass needed), the others are painted as shapes. x is never inverted (sx > 0)."""
        s, geo = self.store, lay.geo
        thr = 2.0 / abs(geo.sx)  # duration of 2 px
        where = None
        if rows is None:
            assert view is not None
            lay.upto = upto
            lay.visible = lay.drawn = 0
            dur = self._dur[:upto]
            short = dur < thr  # NaN (open, withdrawn) is neither short nor wide
            wide_rows = self._cull(np.flatnonzero(dur >= thr), view)
            if np.count_nonzero(short) * 2 > upto:  # mostly short: no copies, a mask
                sc = lay.raster.scratch
                px0 = np.multiply(s.start[:upto], geo.sx, out=sc.get("px0", upto, np.float64))
                top = np.multiply(self.layout.y[:upto], geo.sy, out=sc.get("top", upto, np.float64))
                code, where = self._code[:upto], short
            else:
                px0 = s.start[:upto][short] * geo.sx
                top = self.layout.y[:upto][short] * geo.sy
                code = self._code[:upto][short]
        else:
            dur = self._dur[rows]
            short_rows = rows[dur < thr]
            px0 = s.start[short_rows] * geo.sx
            top = self.layout.y[short_rows] * geo.sy
            code = self._code[short_rows]
            wide_rows = rows[dur >= thr]
        if len(px0):
            px0 += geo.dx
            top += geo.top0
            kept, lo, hi = lay.raster.add(px0, top, code, c0, c1, where)
            lay.visible += kept
            if lo < hi:
                if lay.lut_kinds != len(s.kinds):
                    lay.lut = colour_table(s.kinds, self.theme)
                    lay.lut_kinds = len(s.kinds)
                lay.raster.expand(lay.lut, lo, hi)
        if len(wide_rows):
            lay.visible += len(wide_rows)
            lay.drawn += len(wide_rows)
            x0 = np.clip(s.start[wide_rows] * geo.sx + geo.dx, -_CLAMP, geo.width + _CLAMP)
            x1 = np.clip(s.end[wide_rows] * geo.sx + geo.dx, -_CLAMP, geo.width + _CLAMP)
            top_w = np.floor(self.layout.y[wide_rows] * geo.sy + geo.top0)
            vp = QPainter(lay.vector)
            try:
                vp.setRenderHint(QPainter.RenderHint.Antialiasing, False)
                vp.setClipRect(QRectF(c0, 0, c1 - c0, geo.height))
                # Hatches are anchored at t = 0, so they move with the bars when the view scrolls.
                vp.setBrushOrigin(QPointF(round(geo.dx) % 8, 0))
                self._draw_bars(vp, x0, np.maximum(x1 - x0, 1.0), top_w, float(geo.bar_h),
                                s.kind[wide_rows], s.outcome[wide_rows], geo.thin)
            finally:
                vp.end()
        if rows is None:
            lay.drawn += int(np.count_nonzero(lay.raster.grid))

    def _paint_direct(self, p: QPainter, dev: Any, sx: float, dx: float, sy: float, dy: float,
                      view: tuple[float, float, float, float], n: int) -> tuple[int, int]:
        """Every visible closed bar as a vector shape (devices that are not pixel buffers)."""
        rows = self._cull(np.arange(n, dtype=np.int64), view)
        if not len(rows):
            return 0, 0
        s = self.store
        width = float(dev.width()) if dev is not None else 1e4
        x0 = np.clip(sx * s.start[rows] + dx, -_CLAMP, width + _CLAMP)
        x1 = np.clip(sx * s.end[rows] + dx, -_CLAMP, width + _CLAMP)
        pad = (1 - BAR_FILL) / 2
        top = sy * (self.layout.y[rows] + (pad if sy > 0 else 1 - pad)) + dy
        self._draw_bars(p, x0, np.maximum(x1 - x0, 1.0), top, max(1.0, abs(sy) * BAR_FILL),
                        s.kind[rows], s.outcome[rows], abs(sy) < 3.0)
        return len(rows), len(rows)

    # ---- open bars: every paint
    def _paint_open(self, p: QPainter, sx: float, dx: float, sy: float, dy: float,
                    view: tuple[float, float, float, float], n: int) -> tuple[int, int]:
        """Open bars, grown to "now"; (visible, drawn)."""
        rows = self._open[self._open < n]
        if not len(rows):
            return 0, 0
        s = self.store
        x_lo, x_hi, y_lo, y_hi = view
        ys = self.layout.y[rows]
        rows = rows[(s.start[rows] <= x_hi) & (self.now >= x_lo) & (ys >= y_lo - 1.5) & (ys <= y_hi + 0.5)]
        if not len(rows):
            return 0, 0
        visible = len(rows)
        dev = p.device()
        dpr = float(dev.devicePixelRatioF()) if dev is not None else 1.0
        width = float(dev.width()) if dev is not None else 1e4
        x0 = np.clip(sx * s.start[rows] + dx, -_CLAMP, width + _CLAMP)
        x1 = np.full(len(rows), min(max(sx * self.now + dx, -_CLAMP), width + _CLAMP))
        # Same pixel rows as the cached layers (whole device pixels), in logical coordinates.
        geo = _Geometry(1, 1, dpr, sx * dpr, dx * dpr, sy * dpr, dy * dpr)
        top = np.floor(self.layout.y[rows] * geo.sy + geo.top0) / dpr
        h = geo.bar_h / dpr
        kind = s.kind[rows]
        out = np.full(len(rows), th.OUT_OPEN, np.int8)
        if len(rows) > OPEN_REDUCE_OVER:
            # Thousands of open bars (a leak): all end at "now", so the bars of one kind whose top
            # falls in the same pixel row merge into one from the earliest start.
            key = np.floor(top * dpr).astype(np.int64) * (int(kind.max()) + 1) + kind
            uniq, inv = np.unique(key, return_inverse=True)
            first = np.full(len(uniq), np.inf)
            np.minimum.at(first, inv, x0)
            pick = np.unique(inv, return_index=True)[1]
            x0, x1, top, kind, out = first, x1[pick], top[pick], kind[pick], out[pick]
        self._draw_bars(p, x0, np.maximum(x1 - x0, 1.0), top, h, kind, out, geo.thin)
        return visible, len(x0)

    # ---- shapes
    def _colour(self, kind: str) -> QColor:
        c = self._colours.get(kind)
        if c is None:
            c = self._colours[kind] = th.kind_colour(kind)
        return c

    def _draw_bars(self, p: QPainter, x: np.ndarray, w: np.ndarray, top: np.ndarray, h: float,
                   kind: np.ndarray, out: np.ndarray, thin: bool) -> None:
        """Bars as batched shapes, one batch per (kind, outcome) style."""
        style = kind.astype(np.int64) * 8 + out + 2
        order = np.argsort(style, kind="stable")
        style = style[order]
        bounds = np.flatnonzero(np.diff(style)) + 1
        kinds = self.store.kinds
        prims = self._prims
        for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(style)], strict=True):
            sel = order[a:b]
            st = int(style[a])
            k, o = st // 8, st % 8 - 2
            colour = self._colour(kinds[k] if k < len(kinds) else "?")
            xx, ww, yy = x[sel], w[sel], top[sel]
            acc = outcome_accent(o, self.theme)
            if thin:
                pen_colour = acc if (acc is not None and o != th.OUT_OPEN) else colour
                p.setPen(QPen(pen_colour, 0))
                yc = yy + h / 2
                prims.draw_lines(p, xx, yc, xx + ww, yc)
                continue
            p.setPen(Qt.PenStyle.NoPen)
            for brush in outcome_brushes(colour, o):
                p.setBrush(brush)
                prims.draw_rects(p, xx, yy, ww, h)
            if acc is not None:
                if o != th.OUT_OPEN:
                    p.setBrush(Qt.BrushStyle.NoBrush)
                    p.setPen(QPen(acc, 0))
                    prims.draw_rects(p, xx, yy, np.maximum(ww - 1, 0.0), h - 1)
                    p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(acc)
                cap = np.minimum(ww, 2.0)
                prims.draw_rects(p, xx + ww - cap, yy, cap, h)

    # ---- overlays
    def _end_of(self, rows: np.ndarray) -> np.ndarray:
        end = self.store.end[rows]
        return np.where(np.isnan(end), self.now, end)

    def _paint_overlays(self, p: QPainter, sx: float, dx: float, sy: float, dy: float, h: float,
                        x_lo: float, x_hi: float) -> None:
        if self.alert_rows:
            self._paint_flags(p, sx, dx, sy, dy, h, x_lo, x_hi)
        if self.selected is not None and 0 <= self.selected < self._placed():
            self._paint_selection(p, sx, dx, sy, dy, h)

    def _paint_flags(self, p: QPainter, sx: float, dx: float, sy: float, dy: float, h: float,
                     x_lo: float, x_hi: float) -> None:
        rows = np.fromiter(self.alert_rows.keys(), np.int64, len(self.alert_rows))
        rows = rows[rows < self._placed()]
        if not len(rows):
            return
        rows = rows[(self.store.start[rows] <= x_hi) & (self._end_of(rows) >= x_lo)]
        pad = (1 - BAR_FILL) / 2
        p.setBrush(Qt.BrushStyle.NoBrush)
        sev = np.array([self.alert_rows[r] for r in rows.tolist()], dtype=object)
        for severity in ("info", "warning", "critical"):  # worst drawn last, on top
            sel = rows[sev == severity] if len(rows) else rows
            if not len(sel):
                continue
            # A 2 px frame as two nested 1 px ones (wide pens take Qt's slow stroking path), set
            # ALERT_GAP px clear of the bar: the bar's own edge keeps its outcome outline.
            p.setPen(QPen(QColor(th.SEVERITY_COLOURS[severity]), 0))
            x0 = sx * self.store.start[sel] + dx
            x1 = sx * self._end_of(sel) + dx
            y = sy * (self.layout.y[sel] + (pad if sy > 0 else 1 - pad)) + dy
            w = np.maximum(x1 - x0, 1.0)
            for d in ALERT_INSETS:
                self._prims.draw_rects(p, x0 + d, y + d, w - 2 * d, h - 2 * d)

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
