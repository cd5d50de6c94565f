"""The lifetime timeline (centre of the window): bars from acquire to release, live.

`TimelineView` wraps a pyqtgraph plot holding one `TimelineItem` (all bars) and one `MarksItem`
(run starts/ends). It mirrors `Bridge.store`: `on_lifetimes(delta)` lays new bars out in lanes
(a huge batch - a million rows of a recording - in slices of at most `PLACE_SLICE_S` per loop
turn, so the app stays responsive while it fills in), `on_frame()` (every bridge tick) moves
"now" so open bars grow, and keeps the newest data in view while "Follow" is on: in steps of
whole pixels while it scrolls and of a few percent while it grows, so the item's cached layers
are shifted or extended instead of redrawn. Hover shows a tooltip; a click selects a bar
(`selected(row)`).

GUI thread only.
"""

from __future__ import annotations

import html
import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QToolTip, QVBoxLayout, QWidget
from withscope.gui.bridge.bridge import Bridge, BridgeStats, LifetimeDelta, RunAlert, RunMark, Trim
from withscope.gui.model.lanes import LaneLayout
from withscope.gui.model.textcap import TEXT_CHARS, elide
from withscope.gui.style import theme as th
from withscope.gui.style.plotutil import cache_axes, own_menus, settle
from withscope.gui.timeline.legend import Legend
from withscope.gui.timeline.marks import MarksItem, classify_mark
from withscope.gui.timeline.timeline_item import TimelineItem

DEFAULT_SPAN_S = 10.0  # window of the follow mode once the history is longer than this
MIN_SPAN_S = 0.5
IDLE_OPEN_EVERY = 10  # frames between repaints while only finished runs' resources stay open
PAINT_BUDGET_MS = 4.0  # a paint costing k budgets skips k frames (at most MAX_SKIP)
MAX_SKIP = 5
PLACE_CHUNK = 20_000  # rows laid out per call of LaneLayout.add while catching up
PLACE_SLICE_S = 0.03  # lane layout time per loop turn while catching up with a huge batch
EMPTY_TEXT = "Pick a workload in the catalogue and press Run (Ctrl+R)\nor open your own code with “Open target…”."


# Follow mode on a long history: the window pages when the newest data reaches PAGE_AT of its
# width, so that it then sits at PAGE_TO (a step every ~quarter window instead of every frame).
PAGE_AT = 0.98
PAGE_TO = 0.75


def grow_step(span: float) -> float:
    """`span` rounded up to a multiple of 1/4 of its power of two (steps of 12-25%: each step
    re-renders every bar at the new scale, and repaints the linked plots)."""
    if span <= 0:
        return span
    q = 2.0 ** math.floor(math.log2(span)) / 4
    return math.ceil(span / q) * q


def format_duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def shown_marks(bridge: Bridge, marks: list[RunMark]) -> list[tuple[float, str, bool]]:
    out = []
    for m in marks:
        shown = classify_mark(m.text, bridge.run_name(m.run))
        if shown is not None:
            out.append((m.t_s, shown[0], shown[1]))
    return out


class TimeAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph is untyped (Any)
    """Seconds since the first run started, labelled with units."""

    def __init__(self) -> None:
        super().__init__("bottom")
        self.setLabel("time since start", units="s")
        self.enableAutoSIPrefix(False)


class TimelineView(QWidget):
    selected = Signal(object)  # store row or None

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.bridge = bridge
        self.layout_ = LaneLayout()
        self.group_by = "kind"
        self.follow = True
        self._span = DEFAULT_SPAN_S
        self._unplaced_alerts: list[RunAlert] = []  # alerts whose lifetime row is not known yet
        self._frame = 0
        self._open_now = 0  # open lifetimes, as of the last frame's stats
        self._skip = 0  # frames to skip after a costly paint
        self._dirty = False  # data changed since the last frame
        self._was_running = False
        self._placing = False  # a slice of lane layout is scheduled for the next loop turn

        self.plot = pg.PlotWidget(axisItems={"bottom": TimeAxis()}, enableMenu=False)
        self.plot.setObjectName("timelinePlot")
        pi = self.plot.getPlotItem()
        pi.hideButtons()
        own_menus(pi, self)
        cache_axes(pi)
        pi.setClipToView(False)
        vb = pi.getViewBox()
        vb.invertY(True)
        vb.setMouseEnabled(x=True, y=True)
        vb.disableAutoRange()
        vb.setLimits(yMin=-2)
        self.left_axis = pi.getAxis("left")
        self._lane_ticks: list[tuple[float, str]] | None = None
        self.left_axis.setWidth(120)
        self.left_axis.setStyle(tickLength=0)
        self.item = TimelineItem(bridge.store, self.layout_)
        self.item.grid_axis = pi.getAxis("bottom")  # the item draws the time grid (cheaper)
        self.marks = MarksItem()
        pi.addItem(self.item)
        pi.addItem(self.marks, ignoreBounds=True)
        self.now_line = pg.InfiniteLine(angle=90, movable=False)
        self.now_line.setZValue(6)
        pi.addItem(self.now_line)
        self.now_line.hide()
        vb.setRange(xRange=(0, DEFAULT_SPAN_S), yRange=(-0.5, 8), padding=0)
        vb.sigRangeChangedManually.connect(self._on_manual_range)

        self.empty = QLabel(EMPTY_TEXT, self.plot)
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

        # Header: grouping, follow, fit, legend.
        self.group_combo = QComboBox()
        self.group_combo.addItems(["Lanes by kind", "Lanes by run"])
        self.group_combo.setToolTip("Group the lanes by resource kind or by run (workload)")
        self.group_combo.currentIndexChanged.connect(lambda i: self.set_group_by("run" if i else "kind"))
        self.follow_button = QToolButton()
        self.follow_button.setText("Follow")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setToolTip("Keep the newest events in view (panning or zooming turns this off)")
        self.follow_button.toggled.connect(self.set_follow)
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show every lifetime recorded so far")
        self.fit_button.clicked.connect(self.fit)
        self.legend = Legend()
        # Shown once the bridge's memory budget took old lifetimes out of the store (see bridge.py).
        self.history_note = QLabel()
        self.history_note.setObjectName("historyNote")
        self.history_note.hide()
        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 6, 0)
        header.setSpacing(6)
        header.addWidget(self.group_combo, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.follow_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.fit_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addSpacing(12)
        header.addWidget(self.history_note, 0, Qt.AlignmentFlag.AlignVCenter)
        header.addStretch(1)
        # The legend on a row of its own, as wide as the timeline: beside the controls it wrapped
        # into as many rows as a narrow timeline left it (or none at all), above fewer lanes.
        legend_row = QHBoxLayout()
        legend_row.setContentsMargins(8, 0, 6, 0)
        legend_row.addWidget(self.legend, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(header)
        box.addLayout(legend_row)
        box.addWidget(self.plot, 1)

        self._proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_hover)
        self.plot.scene().sigMouseClicked.connect(self._on_click)

        bridge.lifetimesChanged.connect(self.on_lifetimes)
        bridge.statsChanged.connect(self.on_frame)
        bridge.marksAdded.connect(self.on_marks)
        bridge.alertsAdded.connect(self.on_alerts)
        bridge.cleared.connect(self.on_cleared)
        bridge.trimmed.connect(self.on_trimmed)
        th.notifier().changed.connect(self.set_theme)
        self.set_theme(th.current())
        self._update_axis()  # no lanes, no lane names (else the axis counts 0..8 down the empty plot)
        self._update_empty()

    # ---------------------------------------------------------------- model -> view
    def _group_ids(self, lo: int, hi: int) -> np.ndarray:
        s = self.bridge.store
        if self.group_by == "run":
            runs = s.run[lo:hi]
            names = [self.bridge.run_name(k) for k in range(int(runs.max()) + 1)] if len(runs) else []
            return self.layout_.group_ids(runs, names)
        return self.layout_.group_ids(s.kind[lo:hi], s.kinds)

    def on_lifetimes(self, delta: LifetimeDelta) -> None:
        s = self.bridge.store
        if self.item.store is not s:
            self.item.set_store(s, self.layout_)
        self.item.on_delta(delta.lo, delta.hi, delta.updated)
        if len(delta.updated):
            # Rows laid out before: free their lanes. Rows not laid out yet read their end later.
            rows = delta.updated[delta.updated < self.layout_.n]
            self.layout_.close(rows, s.end[rows])
        self._place()
        self._update_empty()
        self._dirty = True
        self.bridge.frames.request(self._present)

    def _place(self) -> None:
        """Lay out store rows not placed yet, for at most `PLACE_SLICE_S`; the rest on the next
        loop turns (the item draws placed rows only)."""
        s, lay = self.bridge.store, self.layout_
        if lay.n >= s.n:
            return
        deadline = time.perf_counter() + PLACE_SLICE_S
        while lay.n < s.n:
            lo, hi = lay.n, min(s.n, lay.n + PLACE_CHUNK)
            lay.add(lo, s.start[lo:hi], s.end[lo:hi], self._group_ids(lo, hi))
            if time.perf_counter() > deadline:
                break
        self._update_axis()
        if self._unplaced_alerts:
            self._place_pending_alerts()
        if lay.n < s.n and not self._placing:
            self._placing = True
            QTimer.singleShot(0, self, self._place_more)

    def _place_more(self) -> None:
        self._placing = False
        self._place()
        self._dirty = True
        self.item.refresh()

    def finish_layout(self) -> None:
        """Lay out every row now (tests, benchmarks, exports that need the whole picture)."""
        s, lay = self.bridge.store, self.layout_
        if lay.n < s.n:
            lay.add(lay.n, s.start[lay.n : s.n], s.end[lay.n : s.n], self._group_ids(lay.n, s.n))
            self._update_axis()
            if self._unplaced_alerts:
                self._place_pending_alerts()
            self.item.refresh()

    def on_frame(self, stats: BridgeStats | None = None) -> None:
        """Every bridge tick: redraw in this view's slot of the frame (see frames.py)."""
        self._open_now = stats.open if stats is not None else 0
        self._frame += 1
        self.bridge.frames.request(self._present)

    def _present(self) -> None:
        """Open bars grow to "now"; follow the newest data.

        Repaints only when something moved: while runs go (30 Hz, fewer when a paint is costly:
        the paint duty cycle stays under ~1/3 of the loop), and a few times a second while
        resources of finished runs are still open (they keep growing)."""
        running = bool(self.bridge.running())
        if self._skip > 0 and (self.bridge.frames.live or not self._dirty):  # live: new data waits too
            self._skip -= 1
            return
        open_now = self._open_now
        moved = running or self._was_running or (open_now > 0 and self._frame % IDLE_OPEN_EVERY == 0)
        self._was_running = running
        self.now_line.setVisible(running)
        if not (moved or self._dirty):
            return
        self._dirty = False
        if running or open_now:
            now = self.bridge.now_s()
            self.item.set_now(now)
            if running:
                self.now_line.setValue(now)
        self.item.refresh()
        if self.follow and self.bridge.store.n:
            self._follow()
        settle(self.plot)
        self._skip = min(MAX_SKIP, int(self.item.last_paint_ms // PAINT_BUDGET_MS))

    def on_marks(self, marks: list[RunMark]) -> None:
        self.marks.add(shown_marks(self.bridge, marks))

    def on_alerts(self, alerts: list[RunAlert]) -> None:
        """Bars with an alert get an outline in the alert's severity colour."""
        for ra in alerts:
            row = ra.row
            if row is None and ra.alert.lifetime_id is not None:
                row = self.bridge.store.row_of(ra.run, ra.alert.lifetime_id)
            if row is None:
                if ra.alert.lifetime_id is not None:
                    self._unplaced_alerts.append(ra)
                continue
            self.item.flag(row, str(ra.alert.severity))
        self._dirty = True
        self.bridge.frames.request(self._present)

    def _place_pending_alerts(self) -> None:
        pending, self._unplaced_alerts = self._unplaced_alerts, []
        if pending:
            self.on_alerts(pending)

    def on_cleared(self) -> None:
        self.history_note.hide()
        self.layout_.clear()
        self._unplaced_alerts.clear()
        self.item.alert_rows.clear()
        self.item.selected = None
        self.item.set_store(self.bridge.store, self.layout_)
        self.marks.clear()
        self._update_axis()
        self._update_empty()
        self.plot.getViewBox().setRange(xRange=(0, DEFAULT_SPAN_S), yRange=(-0.5, 8), padding=0)

    def on_trimmed(self, trim: Trim) -> None:
        """The bridge replaced its store by a smaller one: lay the kept rows out again, move the
        alert outlines and the selection to their new rows, and say what was summarised."""
        remap = trim.remap

        def moved(row: int) -> int:
            return int(remap[row]) if 0 <= row < len(remap) else -1

        alert_rows = {new: sev for row, sev in self.item.alert_rows.items() if (new := moved(row)) >= 0}
        selected = None if self.item.selected is None else moved(self.item.selected)
        self.layout_.clear()
        self.item.set_store(self.bridge.store, self.layout_)
        self.item.alert_rows.update(alert_rows)
        self.item.selected = selected if selected is not None and selected >= 0 else None
        h = trim.history
        note = f"{h.total:,} older lifetimes (until {h.until_s:.1f} s) counted, not drawn: memory budget"
        tip = (f"The app keeps at most {self.bridge.max_rows:,} lifetimes ({self.bridge.memory_budget_mb:g} MB, "
               "$WITHSCOPE_MEMORY_BUDGET_MB). Open the run's recording to see every one of them.")  # fmt: skip
        self.history_note.setText(note)
        self.history_note.setToolTip(tip)
        self.history_note.show()

    # ---------------------------------------------------------------- controls
    def set_group_by(self, mode: str) -> None:
        if mode == self.group_by:
            return
        self.group_by = mode
        self.group_combo.setCurrentIndex(1 if mode == "run" else 0)
        self.layout_.clear()
        self._place()
        self._update_axis()
        self.item.refresh()
        self._fit_y()

    def set_follow(self, on: bool) -> None:
        if on and not self.follow:  # keep the zoom the user chose, if it shows less than everything
            (x0, x1), _ = self.plot.getViewBox().viewRange()
            lo, hi = self.item.data_bounds()
            self._span = x1 - x0 if MIN_SPAN_S <= x1 - x0 < hi - min(0.0, lo) else DEFAULT_SPAN_S
        self.follow = on
        if self.follow_button.isChecked() != on:
            self.follow_button.setChecked(on)
        if on and self.bridge.store.n:
            self._follow()

    def fit(self) -> None:
        lo, hi = self.item.data_bounds()
        span = max(hi - lo, 1e-3)
        self.plot.getViewBox().setRange(xRange=(lo - span * 0.02, hi + span * 0.02), padding=0)
        self._fit_y()

    def _fit_y(self) -> None:
        h = max(self.layout_.total_height, 4.0)
        vb = self.plot.getViewBox()
        if vb.viewRange()[1] != [-0.5, h + 0.2]:
            vb.setYRange(-0.5, h + 0.2, padding=0)

    def _follow(self) -> None:
        """Short histories are shown whole (from 0), the range growing in steps of ~12-25%; longer
        ones page with a `_span` window: it stays still until the newest data reaches
        `PAGE_AT` of its width, then jumps by whole pixels so that the newest is at `PAGE_TO`.
        Between steps nothing moves but the open bars (the linked plots and every axis keep their
        pictures); steps keep the item's cached layers valid (they are extended or shifted)."""
        vb = self.plot.getViewBox()
        lo, hi = self.item.data_bounds()
        lo = min(0.0, lo)
        if hi - lo <= self._span:
            rng = (lo, lo + min(self._span, grow_step(max(MIN_SPAN_S, (hi - lo) * 1.04))))
        else:
            (c0, c1), _ = vb.viewRange()
            same_span = abs((c1 - c0) - self._span) <= 1e-6 * self._span
            if same_span and c0 + self._span * (1 - PAGE_TO) <= hi <= c0 + self._span * PAGE_AT:
                self._fit_y()  # the newest data is still well inside the page
                return
            px = self._span / max(1.0, float(vb.width()))  # seconds per pixel
            x0 = math.floor((hi - self._span * PAGE_TO) / px) * px
            rng = (x0, x0 + self._span)
        if vb.viewRange()[0] != list(rng):
            vb.setRange(xRange=rng, padding=0, update=False)
        self._fit_y()

    def _on_manual_range(self, *_args: object) -> None:
        if self.follow:
            self.set_follow(False)

    def highlight(self, row: int | None, *, centre: bool = True) -> None:
        """Select `row` (e.g. from an alert) and bring it into view."""
        self.item.selected = row
        self.item.update()
        if row is None or not centre:
            return
        s = self.bridge.store
        start = float(s.start[row])
        end = float(s.end[row]) if not np.isnan(s.end[row]) else self.item.now
        vb = self.plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        span = max(x1 - x0, (end - start) * 1.2, 0.05)
        self.set_follow(False)
        y = float(self.layout_.y[row])
        yspan = max(y1 - y0, 8.0)
        vb.setRange(xRange=(start - span * 0.25, start + span * 0.75),
                    yRange=(max(-0.5, y - yspan / 2), max(-0.5, y - yspan / 2) + yspan), padding=0)

    # ---------------------------------------------------------------- mouse
    def _data_pos(self, scene_pos: QPointF) -> tuple[float, float, float] | None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        pt = vb.mapSceneToView(scene_pos)
        px = vb.viewPixelSize()[0]
        return pt.x(), pt.y(), px * 4

    def _on_hover(self, event: tuple[QPointF]) -> None:
        pos = self._data_pos(event[0])
        row = None if pos is None else self.item.pick(*pos)
        if row is None:
            QToolTip.hideText()
            return
        view = self.plot.mapFromScene(event[0])
        QToolTip.showText(self.plot.mapToGlobal(view), self.describe(row), self.plot)

    def _on_click(self, ev: object) -> None:
        scene_pos = ev.scenePos()  # type: ignore[attr-defined]
        pos = self._data_pos(scene_pos)
        if pos is None:
            return
        row = self.item.pick(*pos)
        self.item.selected = row
        self.item.update()
        self.selected.emit(row)

    def describe(self, row: int) -> str:
        """Tooltip HTML: kind, label, site, duration, outcome."""
        s = self.bridge.store
        lt = self.bridge.lifetime(row)
        kind = s.kinds[int(s.kind[row])]
        end = float(s.end[row]) if not np.isnan(s.end[row]) else self.item.now
        dur = format_duration(max(0.0, end - float(s.start[row])))
        outcome = th.OUTCOME_TEXT.get(int(s.outcome[row]), "?")
        if self.bridge.released_by_cleanup(row):
            outcome += " by the run's cleanup (leaked)"
        label = html.escape(elide(lt.label) if lt else "")
        site = html.escape(elide(lt.site or "unknown site")) if lt else ""
        lines = [f"<b>{html.escape(kind)}</b> {label}", f"site: {site}", f"held: {dur} — {outcome}"]
        if lt and lt.error:
            lines.append(f"error: {html.escape(elide(lt.error, TEXT_CHARS // 4))}")
        lines.append(f"run: {html.escape(self.bridge.run_name(int(s.run[row])))}")
        return "<br>".join(lines)

    # ---------------------------------------------------------------- look
    def set_theme(self, theme: th.Theme) -> None:
        self.plot.setBackground(theme.plot_background)
        pi = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            ax = pi.getAxis(name)
            ax.setPen(theme.grid)
            ax.setTextPen(theme.foreground)
        self.now_line.setPen(pg.mkPen(theme.selection, width=1, style=Qt.PenStyle.DashLine))
        self.item.set_theme(theme)
        self.marks.set_theme(theme)
        self.legend.set_theme(theme)

    def _update_axis(self) -> None:
        ticks = [(top + rows / 2, name) for name, top, rows in self.layout_.groups()]
        if ticks != self._lane_ticks:  # new ticks regenerate the axis: only when lanes changed
            self._lane_ticks = ticks
            self.left_axis.setTicks([ticks, []])
        self.legend.set_kinds(list(self.bridge.store.kinds))

    def _update_empty(self) -> None:
        empty = self.bridge.store.n == 0
        self.empty.setVisible(empty)
        if empty:
            self.empty.resize(self.plot.size())

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.empty.resize(self.plot.size())
