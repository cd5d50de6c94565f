"""Process metrics dock: strip charts of the psutil samples of `core/sampler`.

RSS (MiB), open fds, threads, connections and CPU (%) over time, x linked to the timeline so all
time axes agree, with run start/end marks. One `PlotDataItem` per series updated with `setData`
from a bounded `Ring` once per bridge frame. GUI thread only.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QStackedWidget, QWidget

from . import theme as th
from .bridge import Bridge, RunMark, SampleBlock
from .marks import MarksItem
from .plotutil import own_menus
from .ring import Ring
from .timeline import shown_marks

HISTORY = 36_000  # samples kept (an hour at 10 Hz)
SERIES = [  # (attribute of SampleBlock, axis label, units, colour key)
    ("rss_mib", "RSS", "MiB", "rss"),
    ("fds", "open fds", "", "fds"),
    ("threads", "threads", "", "threads"),
    ("connections", "connections", "", "connections"),
    ("cpu", "CPU", "%", "cpu"),
]
EMPTY_TEXT = "Process metrics (RSS, open fds, threads, connections, CPU) are sampled while a workload runs."
AXIS_WIDTH = 120


class MetricsDock(QDockWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("Process metrics", parent)
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
        self._marks: list[tuple[float, str, bool]] = []
        self._link: pg.ViewBox | None = None
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.setWidget(self.stack)
        self._dirty = False
        bridge.samplesAdded.connect(self.on_samples)
        bridge.marksAdded.connect(self.on_marks)
        bridge.cleared.connect(self.on_cleared)
        bridge.statsChanged.connect(self.flush)
        th.notifier().changed.connect(self.set_theme)

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
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=True, y=False)
            plot.showGrid(x=True, y=True, alpha=0.2)
            left = plot.getAxis("left")
            left.setWidth(AXIS_WIDTH)  # as wide as the timeline's lane axis: x positions line up
            left.enableAutoSIPrefix(False)
            left.setStyle(tickTextOffset=4)
            if last:
                plot.getAxis("bottom").setLabel("time since start", units="s")
                plot.getAxis("bottom").enableAutoSIPrefix(False)
            else:
                plot.getAxis("bottom").setStyle(showValues=False)
            if self.plots:
                plot.setXLink(self.plots[0])
            vb = plot.getViewBox()
            vb.enableAutoRange(x=False, y=True)
            vb.setAutoVisible(y=True)
            vb.setLimits(yMin=0)
            curve = plot.plot([], [], name=name)
            curve.setClipToView(True)
            label = pg.TextItem(anchor=(1, 0))
            label.setParentItem(vb)
            title = pg.TextItem(f"{name} ({units})" if units else name, anchor=(0, 0))
            title.setParentItem(vb)
            title.setPos(4, 0)
            self.titles.append(title)
            marks = MarksItem(labels=False)
            plot.addItem(marks, ignoreBounds=True)
            marks.set_marks(self._marks)
            self.plots.append(plot)
            self.curves.append(curve)
            self.marks.append(marks)
            self.value_labels.append(label)
            vb.sigResized.connect(lambda v, lab=label: lab.setPos(v.width() - 4, 0))
        if self._link is not None:
            self.plots[0].setXLink(self._link)
        else:
            self.plots[0].setXRange(0, 10, padding=0)
        self.stack.addWidget(self.graphics)
        self.set_theme(th.current())

    def link_x(self, view_box: pg.ViewBox) -> None:
        """Share the x range with the timeline."""
        self._link = view_box
        if self.plots:
            self.plots[0].setXLink(view_box)

    def on_samples(self, block: SampleBlock) -> None:
        self._build()
        rows = np.column_stack([block.t_s, *(getattr(block, attr) for attr, *_ in SERIES)])
        self.ring.extend(rows)
        self._dirty = True
        self.flush()

    def flush(self, _stats: object = None) -> None:
        """Push the ring to the curves (at most once per frame)."""
        if not self._dirty:
            return
        self._dirty = False
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
        for title, (_a, _n, _u, colour) in zip(self.titles, SERIES, strict=True):
            title.setColor(th.METRIC_COLOURS[colour])
