"""Streaming throughput dock: bytes/s and chunks/s per tracked stream, TTFB marked, and a summary.

The bytes/s axis is logarithmic by default (a "log scale" switch turns it linear): a correct run
at GB/s and a faulty one at kB/s are both readable on one axis after Fit. Every rate - axis ticks
and table - is written by `withscope.core.units` (decimal, the one convention of every view).

Mirrors `StreamStats` (core/streams.py) as published by `Bridge.streamsChanged`: one curve per
stream (the newest `MAX_CURVES` are plotted; older ones stay in the table), updated with
`setData` from `StreamStats.rates()`; one scatter item marks every time to first byte.
GUI thread only.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QHeaderView,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from withscope.core import units
from withscope.gui.bridge.bridge import Bridge, RunStream
from withscope.gui.bridge.frames import on_screen
from withscope.gui.style import theme as th
from withscope.gui.style.plotutil import cache_axes, mirror_x, own_menus, settle
from withscope.gui.timeline.timeline import format_duration

FLUSH_EVERY_S = 0.2  # curves and table redraw at most 5 times a second
MAX_CURVES = 8
MAX_ROWS = 1000
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#e15759"]
COLUMNS = ["Stream", "Run", "TTFB", "Duration", "Chunks", "Bytes", "Throughput", "State"]
EMPTY_TEXT = "No streams yet.\nStreaming workloads (track_stream) show their throughput and time to first byte here."


format_bytes = units.fmt_bytes
MIN_LOG_RATE = 1.0  # B/s: zero rates sit on the log axis' floor instead of at minus infinity


class RateAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph is untyped (Any)
    """A bytes-per-second axis whose ticks are written by `units.fmt_rate` (linear or log)."""

    def __init__(self, orientation: str = "left", **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # pyqtgraph API
        if self.logMode:  # values are decades: label 1, 2 and 5 times a power of ten
            out = []
            for v in values:
                mantissa = 10.0 ** (v - math.floor(v + 1e-9))
                keep = any(abs(mantissa - m) < 1e-3 * m for m in (1.0, 2.0, 5.0))
                out.append(units.fmt_rate(10.0**v) if keep else "")
            return out
        return [units.fmt_rate(v * scale) for v in values]


class ThroughputDock(QDockWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("Streaming throughput", parent)
        self.setObjectName("throughputDock")
        self.bridge = bridge
        self.streams: dict[tuple[int, int], RunStream] = {}
        self.curves: dict[tuple[int, int], tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._rows: dict[tuple[int, int], int] = {}
        self._changed: dict[tuple[int, int], RunStream] = {}  # not drawn yet
        self._flushed_at = -math.inf  # time.monotonic() of the last redraw

        # Plots are built with the first stream (start-up shows the empty state at once).
        self.graphics: pg.GraphicsLayoutWidget | None = None
        self._link: pg.ViewBox | None = None

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.setWidget(self.stack)
        bridge.streamsChanged.connect(self.on_streams)
        bridge.cleared.connect(self.on_cleared)
        bridge.statsChanged.connect(self._on_frame)
        self.visibilityChanged.connect(self._on_visibility)
        th.notifier().changed.connect(self.set_theme)

    def _on_visibility(self, shown: bool) -> None:
        if shown:
            self.bridge.frames.request(self._present)

    def _build(self) -> None:
        if self.graphics is not None:
            return
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(0, 4, 8, 0)
        self.bytes_plot = self.graphics.addPlot(row=0, col=0, axisItems={"left": RateAxis("left")})
        self.chunks_plot = self.graphics.addPlot(row=1, col=0)
        for plot, (label, unit) in ((self.bytes_plot, ("throughput", None)), (self.chunks_plot, ("chunks", "/s"))):
            plot.hideButtons()
            own_menus(plot, self)
            cache_axes(plot)
            plot.setMenuEnabled(False)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("left").setLabel(label, units=unit)
            plot.getAxis("left").setWidth(90)
        self.chunks_plot.getViewBox().setLimits(yMin=0)
        self.chunks_plot.setXLink(self.bytes_plot)
        self.chunks_plot.getAxis("bottom").setLabel("time since start", units="s")
        self.chunks_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.bytes_plot.getAxis("bottom").setStyle(showValues=False)
        self.legend = self.bytes_plot.addLegend(offset=(-8, 4), labelTextSize="8pt")
        self.ttfb = pg.ScatterPlotItem(symbol="t", size=9)
        self.ttfb.setZValue(10)
        self.bytes_plot.addItem(self.ttfb)
        if self._link is not None:
            mirror_x(self.bytes_plot.getViewBox(), self._link)
        self.log_check = QCheckBox("log scale")
        self.log_check.setToolTip("Throughput on a logarithmic axis: fast and slow runs compared on one plot")
        self.log_check.setChecked(True)
        self.log_check.toggled.connect(self.set_log)
        self.set_log(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.graphics)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 420])
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.log_check, 0, Qt.AlignmentFlag.AlignLeft)
        box.addWidget(split, 1)
        self.stack.addWidget(page)
        self.set_theme(th.current())

    def link_x(self, view_box: pg.ViewBox) -> None:
        """Share the x range with the timeline."""
        self._link = view_box
        if self.graphics is not None:
            mirror_x(self.bytes_plot.getViewBox(), view_box)

    def set_log(self, on: bool) -> None:
        """Throughput on a log (default) or linear axis; the y range fits every stream."""
        self.bytes_plot.setLogMode(y=on)
        # y >= 0 either way: 0 B/s linear, 10^0 = MIN_LOG_RATE on the log axis
        self.bytes_plot.getViewBox().setLimits(yMin=0)
        for key, rs in self.streams.items():
            if key in self.curves:
                self._update_curve(key, rs)
        self._update_ttfb()
        self.bytes_plot.getViewBox().enableAutoRange(axis=pg.ViewBox.YAxis)

    def on_streams(self, streams: list[RunStream]) -> None:
        self._build()
        for rs in streams:
            key = (rs.run, rs.stats.lifetime_id)
            self.streams[key] = rs
            self._changed[key] = rs
        self.bridge.frames.request(self._flush)

    def _flush(self) -> None:
        """Redraw the streams that changed, at most every `FLUSH_EVERY_S`; while the app runs,
        only when the dock is visible (not behind another tab: it catches up when shown)."""
        if not self._changed or time.monotonic() - self._flushed_at < FLUSH_EVERY_S:
            return
        if self.bridge.frames.live and not on_screen(self):
            return
        self._flushed_at = time.monotonic()
        changed, self._changed = self._changed, {}
        for key, rs in changed.items():
            self._update_curve(key, rs)
            self._update_row(key, rs)
        self._update_ttfb()
        self.stack.setCurrentIndex(1)

    def _on_frame(self, _stats: object = None) -> None:
        if self.graphics is not None and on_screen(self):
            self.bridge.frames.request(self._present)

    def _present(self) -> None:
        """Pending stream updates, then settle the plots (the timeline may have moved the linked x
        range; see `plotutil.settle`)."""
        if self.graphics is None:
            return
        self._flush()
        if on_screen(self.graphics):
            settle(self.graphics)

    def _name(self, rs: RunStream) -> str:
        return f"{rs.stats.label} #{rs.stats.lifetime_id}"

    def _update_curve(self, key: tuple[int, int], rs: RunStream) -> None:
        curves = self.curves.get(key)
        if curves is None:
            if len(self.curves) >= MAX_CURVES:  # drop the oldest curve (its row stays in the table)
                old = next(iter(self.curves))
                for plot, c in zip((self.bytes_plot, self.chunks_plot), self.curves.pop(old), strict=True):
                    plot.removeItem(c)
                self.legend.removeItem(self._name(self.streams[old]))
            colour = PALETTE[len(self._rows) % len(PALETTE)]
            pen = pg.mkPen(colour, width=1)
            curves = (
                self.bytes_plot.plot([], [], pen=pen, name=self._name(rs), stepMode=None),
                self.chunks_plot.plot([], [], pen=pen),
            )
            self.curves[key] = curves
        rates = rs.stats.rates()
        if not rates:
            return
        arr = np.array(rates, np.float64)
        t = (arr[:, 0] - (self.bridge.origin_ns or 0)) / 1e9
        curves[0].setData(t, self._rate_values(arr[:, 1]))
        curves[1].setData(t, arr[:, 2])

    def _rate_values(self, bps: np.ndarray) -> np.ndarray:
        """Rates as plotted: on the log axis zero is drawn at its floor (`MIN_LOG_RATE`)."""
        return np.maximum(bps, MIN_LOG_RATE) if self.log_check.isChecked() else bps

    def _update_row(self, key: tuple[int, int], rs: RunStream) -> None:
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= MAX_ROWS:
                return
            row = self._rows[key] = self.table.rowCount()
            self.table.insertRow(row)
        st = rs.stats
        ttfb = st.ttfb_ns
        values = [
            self._name(rs),
            self.bridge.run_name(rs.run),
            "—" if ttfb is None else format_duration(ttfb / 1e9),
            format_duration(st.duration_ns / 1e9),
            f"{st.chunks:,}",
            format_bytes(st.bytes),
            units.fmt_rate(st.throughput_bps),
            "ended" if st.ended else "streaming",
        ]
        for col, v in enumerate(values):
            item = self.table.item(row, col)
            if item is None:
                item = QTableWidgetItem()
                if col >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
            if item.text() != v:
                item.setText(v)

    def _update_ttfb(self) -> None:
        origin = self.bridge.origin_ns or 0
        pts = []
        for key in self.curves:
            st = self.streams[key].stats
            if st.first_chunk_ns is not None:
                rates = st.rates()
                y = float(self._rate_values(np.array([rates[0][1] if rates else 0.0]))[0])
                if self.log_check.isChecked():  # a scatter item is not mapped by the plot's log mode
                    y = math.log10(y)
                pts.append(((st.first_chunk_ns - origin) / 1e9, y))
        if pts:
            a = np.array(pts)
            self.ttfb.setData(a[:, 0], a[:, 1])
        else:
            self.ttfb.setData([], [])

    def on_cleared(self) -> None:
        if self.graphics is None:
            return
        for c0, c1 in self.curves.values():
            self.bytes_plot.removeItem(c0)
            self.chunks_plot.removeItem(c1)
        self.legend.clear()
        self.curves.clear()
        self.streams.clear()
        self._changed.clear()
        self._rows.clear()
        self.table.setRowCount(0)
        self.ttfb.setData([], [])
        self.stack.setCurrentIndex(0)

    def set_theme(self, theme: th.Theme) -> None:
        if self.graphics is None:
            return
        self.graphics.setBackground(theme.plot_background)
        for plot in (self.bytes_plot, self.chunks_plot):
            for name in ("left", "bottom"):
                ax = plot.getAxis(name)
                ax.setPen(theme.grid)
                ax.setTextPen(theme.foreground)
        self.ttfb.setBrush(pg.mkBrush(theme.foreground))
        self.ttfb.setPen(pg.mkPen(None))
        self.legend.setLabelTextColor(theme.foreground)
