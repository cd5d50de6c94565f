"""Process metrics dock: strip charts of the psutil samples of `core/sampler`.

RSS (MiB), open fds, threads, connections and CPU (%) over time, x linked to the timeline so all
time axes agree, with run start/end marks. One `PlotDataItem` per series updated with `setData`
from a bounded `Ring` a few times a second, in the dock's slot of the frame (frames.py). Cheap to
repaint: y ranges move in steps (`y_range`), axes are cached pixmaps, one time axis under the last
chart supplies every chart's x grid (time_grid.py). GUI thread only.

The figures are a run's process tree (its program and what it started), never the app's own; with
several runs at once they are the latest run's (`Bridge.metrics_key`), named above the charts.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QStackedWidget, QVBoxLayout, QWidget
from withscope.gui.bridge.bridge import Bridge, RunMark, SampleBlock
from withscope.gui.bridge.frames import on_screen
from withscope.gui.model.ring import Ring
from withscope.gui.style import theme as th
from withscope.gui.style.plotutil import cache_axes, mirror_x, own_menus, settle
from withscope.gui.timeline.marks import MarksItem
from withscope.gui.timeline.time_grid import TickCache, TimeGrid
from withscope.gui.timeline.timeline import shown_marks

HISTORY = 36_000  # samples kept (an hour at 10 Hz)
SERIES = [  # (attribute of SampleBlock, axis label, units, colour key)
    ("rss_mib", "RSS", "MiB", "rss"),
    ("fds", "open fds", "", "fds"),
    ("threads", "threads", "", "threads"),
    ("connections", "connections", "", "connections"),
    ("cpu", "CPU", "%", "cpu"),
]
COUNTS = {"fds", "threads", "connections"}  # series of whole numbers
FLUSH_EVERY_S = 0.3  # curves are redrawn about 3 times a second (samples come at 10 Hz)
EMPTY_TEXT = ("Process metrics (RSS, open fds, threads, connections, CPU) of the program's process tree "
              "are sampled while it runs.")
TITLE = "Process metrics"
AXIS_WIDTH = 120


def nice_step(x: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= x (x > 0)."""
    p = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * p >= x * (1 - 1e-9):
            return m * p
    return 10.0 * p


def y_range(lo: float, hi: float, cur_lo: float, cur_hi: float, min_step: float = 1.0) -> tuple[float, float] | None:
    """A y range for data in [lo, hi] with edges on a grid of nice steps (about a quarter of the
    data's span, at least `min_step` and 2% of its size) and some headroom, or None when the
    current range still fits: it holds the data and the data fills at least a quarter of it."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    span = hi - lo
    if cur_lo <= lo and hi <= cur_hi and span * 4 >= cur_hi - cur_lo:
        return None
    step = nice_step(max(span / 4, abs(hi) * 0.02, min_step))
    y0 = max(0.0, math.floor(lo / step) * step)
    y1 = math.ceil(hi / step) * step
    if y1 - hi < step / 4:  # keep the curve off the top edge
        y1 += step
    if lo - y0 < step / 4 and y0 >= step:
        y0 -= step
    if cur_lo <= lo and hi <= cur_hi and (cur_lo, cur_hi) == (y0, y1):
        return None
    return y0, y1


class MetricsDock(QDockWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(TITLE, parent)
        self.setObjectName("metricsDock")
        self.bridge = bridge
        self.ring = Ring(1 + len(SERIES), HISTORY)
        # The plots are built with the first samples (start-up shows the empty state at once).
        self.graphics: pg.GraphicsLayoutWidget | None = None
        self.plots: list[pg.PlotItem] = []
        self.curves: list[pg.PlotDataItem] = []
        self.marks: list[MarksItem] = []
        self.value_labels: list[pg.TextItem] = []
        self.titles: list[pg.TextItem] = []
        self.grids: list[TimeGrid] = []
        self._marks: list[tuple[float, str, bool]] = []
        self._link: pg.ViewBox | None = None
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        # Whose figures these are: the run and its process (the app's own never are).
        self.source_label = QLabel("")
        self.source_label.setObjectName("metricsSource")
        self.source_label.setContentsMargins(6, 2, 6, 0)
        self.source_label.hide()
        body = QWidget()
        box = QVBoxLayout(body)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.source_label)
        box.addWidget(self.stack, 1)
        self.setWidget(body)
        self._dirty = False
        self._last_push = -math.inf  # time.monotonic() of the last push to the curves
        bridge.samplesAdded.connect(self.on_samples)
        bridge.marksAdded.connect(self.on_marks)
        bridge.cleared.connect(self.on_cleared)
        bridge.statsChanged.connect(self._on_frame)
        bridge.metricsRunChanged.connect(self._on_metrics_run)
        self._metrics_name = ""
        self._metrics_pid: int | None = None
        self.visibilityChanged.connect(self._on_visibility)
        th.notifier().changed.connect(self.set_theme)

    def _on_visibility(self, shown: bool) -> None:
        if shown:
            self.bridge.frames.request(self.flush)

    def _build(self) -> None:
        if self.graphics is not None:
            return
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(0, 4, 8, 0)
        self.graphics.ci.setSpacing(0)
        for i, (_attr, name, units, _c) in enumerate(SERIES):
            last = i == len(SERIES) - 1
            plot = self.graphics.addPlot(row=i, col=0)
            plot.hideButtons()
            own_menus(plot, self)
            cache_axes(plot)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=True, y=False)
            plot.showGrid(x=False, y=True, alpha=0.2)  # x grid: a TimeGrid per plot, below
            left = plot.getAxis("left")
            left.setWidth(AXIS_WIDTH)  # as wide as the timeline's lane axis: x positions line up
            left.enableAutoSIPrefix(False)
            left.setStyle(tickTextOffset=4)
            if last:
                plot.getAxis("bottom").setLabel("time since start", units="s")
                plot.getAxis("bottom").enableAutoSIPrefix(False)
            else:
                plot.hideAxis("bottom")  # one time axis under the last chart
            if self.plots:
                plot.setXLink(self.plots[0])
            vb = plot.getViewBox()
            vb.disableAutoRange()  # y follows the visible data in steps: see y_range()
            vb.setLimits(yMin=0)
            if SERIES[i][0] in COUNTS:
                plot.getAxis("left").setTickSpacing(1, 1)  # whole numbers (widened with the range)
            curve = plot.plot([], [], name=name)
            curve.setClipToView(True)
            label = pg.TextItem(anchor=(1, 0))
            label.setParentItem(vb)
            title = pg.TextItem(f"{name} ({units})" if units else name, anchor=(0, 0))
            title.setParentItem(vb)
            title.setPos(4, 0)
            self.titles.append(title)
            marks = MarksItem(labels=False)
            marks.setCacheMode(marks.CacheMode.DeviceCoordinateCache)  # redrawn when marks or range change
            plot.addItem(marks, ignoreBounds=True)
            marks.set_marks(self._marks)
            self.plots.append(plot)
            self.curves.append(curve)
            self.marks.append(marks)
            self.value_labels.append(label)
            vb.sigResized.connect(lambda v, lab=label: lab.setPos(v.width() - 4, 0))
        self.plots[0].getViewBox().sigXRangeChanged.connect(self._on_x_range)  # the others follow it
        # Every chart's x grid at the ticks of the last one's time axis, computed once per range.
        ticks = TickCache(self.plots[-1].getAxis("bottom"))
        for plot in self.plots:
            grid = TimeGrid(ticks, alpha=0.2, edge=plot is not self.plots[-1])
            plot.addItem(grid, ignoreBounds=True)
            self.grids.append(grid)
        if self._link is not None:
            mirror_x(self.plots[0].getViewBox(), self._link)
        else:
            self.plots[0].setXRange(0, 10, padding=0)
        self.stack.addWidget(self.graphics)
        self.set_theme(th.current())

    def link_x(self, view_box: pg.ViewBox) -> None:
        """Share the x range with the timeline."""
        self._link = view_box
        if self.plots:
            mirror_x(self.plots[0].getViewBox(), view_box)

    def _on_metrics_run(self, _key: int, name: str) -> None:
        self._metrics_name, self._metrics_pid = name, None
        self._retitle()

    def _retitle(self) -> None:
        """The title names whose figures these are: the run and its process id."""
        if not self._metrics_name:
            self.source_label.hide()
            return
        pid = self.bridge.metrics_pid()
        self._metrics_pid = pid
        where = f"process {pid} and its children" if pid is not None else "its process tree"
        self.source_label.setText(f"Run: {self._metrics_name} — {where}")
        self.source_label.setToolTip("The figures are the run's own processes, never withscope's. With several "
                                     "runs at once, the latest run's.")
        self.source_label.show()

    def on_samples(self, block: SampleBlock) -> None:
        if self._metrics_name and self.bridge.metrics_pid() != self._metrics_pid:
            self._retitle()  # the run's process started after the run was attached
        self._build()
        rows = np.column_stack([block.t_s, *(getattr(block, attr) for attr, *_ in SERIES)])
        self.ring.extend(rows)
        self._dirty = True
        self.bridge.frames.request(self.flush)

    def flush(self, _stats: object = None) -> None:
        """Push the ring to the curves (at most every `FLUSH_EVERY_S`), then settle the plots (the
        x range may have followed the timeline)."""
        if self.graphics is None:
            return
        shown = on_screen(self)
        due = self._dirty and time.monotonic() - self._last_push >= FLUSH_EVERY_S
        if due and (shown or not self.bridge.frames.live):  # behind another tab: once shown
            self._dirty = False
            self._push()
        if shown:
            settle(self.graphics)

    def _on_frame(self, _stats: object = None) -> None:
        if self.graphics is not None and on_screen(self):
            self.bridge.frames.request(self.flush)

    def _push(self) -> None:
        self._last_push = time.monotonic()
        data = self.ring.view()
        if not len(data):
            return
        self.stack.setCurrentIndex(1)
        t = data[:, 0]
        for i, (curve, (_attr, _name, units, _c)) in enumerate(zip(self.curves, SERIES, strict=True)):
            y = data[:, i + 1]
            curve.setData(t, y)
            last = y[-1]
            text = f"{last:.1f} {units}".strip() if units else f"{last:.0f}"
            self.value_labels[i].setText(text)
        self._fit_y()

    def _on_x_range(self, *_args: object) -> None:
        if self.graphics is not None:
            # The timeline moved the shared range in its slot: repaint in a pass of our own.
            self.bridge.frames.hold(self.graphics)
        if self.plots and self.ring.n:
            self._fit_y()

    def _fit_y(self) -> None:
        """Each plot's y range from the samples in the x range shown, changed only when they leave
        it or fill less than a quarter of it (a new range regenerates the axis and its grid)."""
        data = self.ring.view()
        (x0, x1), _ = self.plots[0].getViewBox().viewRange()
        lo, hi = np.searchsorted(data[:, 0], [x0, x1])
        lo, hi = max(0, lo - 1), min(len(data), hi + 1)  # the segments crossing the edges too
        if hi <= lo:
            return
        for i, plot in enumerate(self.plots):
            y = data[lo:hi, i + 1]
            vb = plot.getViewBox()
            cur = vb.viewRange()[1]
            new = y_range(float(y.min()), float(y.max()), cur[0], cur[1])
            if new is not None:
                vb.setYRange(*new, padding=0)
                if SERIES[i][0] in COUNTS:  # whole ticks: no "0.5 threads"
                    major = max(1.0, nice_step((new[1] - new[0]) / 4))
                    plot.getAxis("left").setTickSpacing(major, major)

    def on_marks(self, marks: list[RunMark]) -> None:
        shown = shown_marks(self.bridge, marks)
        self._marks.extend(shown)
        for m in self.marks:
            m.add(shown)

    def on_cleared(self) -> None:
        self.ring.clear()
        self._marks.clear()
        for curve in self.curves:
            curve.setData([], [])
        for m in self.marks:
            m.clear()
        for lab in self.value_labels:
            lab.setText("")
        self.stack.setCurrentIndex(0)

    def set_theme(self, theme: th.Theme) -> None:
        if self.graphics is None:
            return
        self.graphics.setBackground(theme.plot_background)
        for plot, curve, marks, label, (_a, _n, _u, colour) in zip(
            self.plots, self.curves, self.marks, self.value_labels, SERIES, strict=True
        ):
            for name in ("left", "bottom"):
                ax = plot.getAxis(name)
                ax.setPen(theme.grid)
                ax.setTextPen(theme.foreground)
            curve.setPen(pg.mkPen(th.METRIC_COLOURS[colour], width=1))
            marks.set_theme(theme)
            label.setColor(theme.foreground)
        for grid in self.grids:
            grid.set_theme(theme)
        for title, (_a, _n, _u, colour) in zip(self.titles, SERIES, strict=True):
            title.setColor(th.METRIC_COLOURS[colour])
