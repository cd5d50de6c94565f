"""Compare two runs side by side: two labelled timelines on linked time axes and a short diff.

`diff_runs(a, b)` is plain data (no Qt): alerts by rule (A vs B) and resources by kind (how
many, how many the workload left open - still open at the end or released only by the run's
cleanup - and how many only the garbage collector released). `CompareWindow` shows it next to
two `TimelineView`s, each on a private `Bridge` fed from a `ReplayFeed`, x axes linked (time
since each run's start), so e.g. class-cm/correct and class-cm/faulty line up.

GUI thread only (`diff_runs` is pure and thread-agnostic).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from withscope.core.events import Outcome
from withscope.core.snapshot import RunSnapshot
from withscope.gui.style import theme as th


@dataclass(frozen=True, slots=True)
class KindCounts:
    count: int = 0
    left_open: int = 0  # open at the end, or released only by the run's cleanup
    gc: int = 0


@dataclass(frozen=True, slots=True)
class RunDiff:
    a_label: str
    b_label: str
    alerts: tuple[tuple[str, int, int], ...]  # (rule, count in A, count in B), by rule
    kinds: tuple[tuple[str, KindCounts, KindCounts], ...]  # (kind, A, B), in order of first use

    def alert_counts(self, rule: str) -> tuple[int, int]:
        return next(((a, b) for r, a, b in self.alerts if r == rule), (0, 0))

    def kind_counts(self, kind: str) -> tuple[KindCounts, KindCounts]:
        return next(((a, b) for k, a, b in self.kinds if k == kind), (KindCounts(), KindCounts()))


def short(label: str) -> str:
    """"A: class-cm/correct" -> "A" (column headers); a label without a colon stays whole."""
    head = label.split(":", 1)[0].strip()
    return head if head and len(head) <= 12 else label


def describe(snap: RunSnapshot) -> str:
    return f"{snap.target} — {snap.status}, {snap.duration_s:.2f} s, {len(snap.lifetimes)} lifetimes, " \
           f"{len(snap.alerts)} alerts"


def kind_counts(snap: RunSnapshot) -> dict[str, KindCounts]:
    """Per kind: count, left open (as the workload left them), released by the GC."""
    end = snap.workload_end_ns
    raw: dict[str, Counter[str]] = {}
    for lt in sorted(snap.lifetimes, key=lambda x: (x.acquired_ns, x.id)):
        c = raw.setdefault(lt.kind, Counter())
        c["count"] += 1
        if lt.outcome is Outcome.OPEN or snap.released_by_cleanup(lt, end):
            c["open"] += 1
        if lt.outcome is Outcome.GC:
            c["gc"] += 1
    return {k: KindCounts(c["count"], c["open"], c["gc"]) for k, c in raw.items()}


def diff_runs(a: RunSnapshot, b: RunSnapshot, a_label: str = "A", b_label: str = "B") -> RunDiff:
    ra = Counter(x.rule for x in a.alerts)
    rb = Counter(x.rule for x in b.alerts)
    alerts = tuple((rule, ra[rule], rb[rule]) for rule in sorted(ra.keys() | rb.keys()))
    ka, kb = kind_counts(a), kind_counts(b)
    kinds = tuple((k, ka.get(k, KindCounts()), kb.get(k, KindCounts())) for k in dict.fromkeys([*ka, *kb]))
    return RunDiff(a_label, b_label, alerts, kinds)


# ------------------------------------------------------------------------------------ views
class RunPane(QWidget):
    """One labelled timeline of a finished run (a private bridge; no timer: fed once)."""

    def __init__(self, label: str, snapshot: RunSnapshot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from withscope.gui.bridge.bridge import Bridge
        from withscope.gui.model.replay_feed import ReplayFeed
        from withscope.gui.timeline.timeline import TimelineView

        self.snapshot = snapshot
        feed = ReplayFeed(snapshot)
        self.bridge = Bridge(self)
        self.bridge.clock = lambda: feed.end_ns
        self.title = QLabel(f"<b>{label}</b>&nbsp; {describe(snapshot)}")
        self.title.setObjectName("compareTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.timeline = TimelineView(self.bridge)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.title)
        box.addWidget(self.timeline, 1)
        rec = feed.recorder_at(feed.end_ns, snapshot.target)
        end = feed.end_ns
        key = self.bridge.attach(rec, snapshot.target, alerts=lambda: feed.alerts_until(end),
                                 samples=lambda: feed.samples_until(end))
        self.bridge.finish(key)
        self.timeline.set_follow(False)
        self.timeline.fit()

    def close_pane(self) -> None:
        self.bridge.close()


def _item(text: str, *, right: bool = False, bold: bool = False, colour: str | None = None) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    if right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if bold:
        f = QFont(it.font())
        f.setBold(True)
        it.setFont(f)
    if colour:
        it.setForeground(QColor(colour))
    return it


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(False)
    return t


class CompareWindow(QWidget):
    """A top-level window (parented to the main window) comparing run A with run B."""

    def __init__(self, a: RunSnapshot, b: RunSnapshot, parent: QWidget | None = None, *,
                 a_label: str = "A", b_label: str = "B") -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("compareWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(f"withscope — compare {a.target} vs {b.target}")
        self.diff = diff_runs(a, b, a_label, b_label)
        self.pane_a = RunPane(a_label, a)
        self.pane_b = RunPane(b_label, b)
        # aligned time axes: both start at their run's start; B follows A's range
        self.pane_b.timeline.plot.setXLink(self.pane_a.timeline.plot)
        lo = min(0.0, self.pane_a.timeline.item.data_bounds()[0], self.pane_b.timeline.item.data_bounds()[0])
        hi = max(self.pane_a.timeline.item.data_bounds()[1], self.pane_b.timeline.item.data_bounds()[1], 1e-3)
        self.pane_a.timeline.plot.getViewBox().setXRange(lo, hi + (hi - lo) * 0.03, padding=0)

        panes = QSplitter(Qt.Orientation.Horizontal)
        panes.addWidget(self.pane_a)
        panes.addWidget(self.pane_b)
        sa, sb = short(a_label), short(b_label)
        self.alerts_table = _table(["Alerts by rule", sa, sb])
        self.kinds_table = _table(["Resources by kind", f"{sa} count", f"{sa} left open", f"{sa} gc",
                                   f"{sb} count", f"{sb} left open", f"{sb} gc"])
        for t in (self.alerts_table, self.kinds_table):
            t.setToolTip(f"{sa} = {a_label}\n{sb} = {b_label}\n"
                         "left open: still open at the end, or released only by the run's cleanup")
        self._fill()
        self.summary = QLabel(self.summary_text())
        self.summary.setWordWrap(True)
        self.summary.setObjectName("compareSummary")
        tables = QWidget()
        tl = QHBoxLayout(tables)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.alerts_table, 2)
        tl.addWidget(self.kinds_table, 5)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.summary)
        bl.addWidget(tables)
        bl.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(panes)
        split.addWidget(bottom)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.addWidget(split)
        self.resize(1500, 900)

    def summary_text(self) -> str:
        d = self.diff
        only_b = [r for r, a, b in d.alerts if b and not a]
        only_a = [r for r, a, b in d.alerts if a and not b]
        open_a = sum(a.left_open for _k, a, _b in d.kinds)
        open_b = sum(b.left_open for _k, _a, b in d.kinds)
        parts = [f"Left open by the workload: {d.a_label} {open_a}, {d.b_label} {open_b}."]
        if only_b:
            parts.append(f"Only {d.b_label} raised: {', '.join(only_b)}.")
        if only_a:
            parts.append(f"Only {d.a_label} raised: {', '.join(only_a)}.")
        if not d.alerts:
            parts.append("Neither run raised an alert.")
        return " ".join(parts)

    def _fill(self) -> None:
        bad = th.SEVERITY_COLOURS.get("critical", "#d62728")
        self.alerts_table.setRowCount(len(self.diff.alerts) or 1)
        if not self.diff.alerts:
            self.alerts_table.setItem(0, 0, _item("no alerts in either run"))
        for i, (rule, a, b) in enumerate(self.diff.alerts):
            self.alerts_table.setItem(i, 0, _item(rule, bold=a != b))
            self.alerts_table.setItem(i, 1, _item(str(a), right=True, colour=bad if a else None))
            self.alerts_table.setItem(i, 2, _item(str(b), right=True, colour=bad if b else None))
        self.kinds_table.setRowCount(len(self.diff.kinds))
        for i, (kind, ka, kb) in enumerate(self.diff.kinds):
            self.kinds_table.setItem(i, 0, _item(kind, bold=ka != kb))
            for j, (v, warn) in enumerate(((ka.count, False), (ka.left_open, True), (ka.gc, True),
                                           (kb.count, False), (kb.left_open, True), (kb.gc, True))):
                self.kinds_table.setItem(i, 1 + j, _item(str(v), right=True, colour=bad if warn and v else None))
        for t in (self.alerts_table, self.kinds_table):  # as tall as their rows (up to 8), no taller
            rows = min(max(t.rowCount(), 1), 8)
            t.setMaximumHeight(t.horizontalHeader().sizeHint().height() + rows * t.verticalHeader().defaultSectionSize()
                               + 2 * t.frameWidth() + 2)

    def table_text(self) -> list[list[str]]:
        """Both tables as text rows (for tests and copy/paste)."""
        out: list[list[str]] = []
        for t in (self.alerts_table, self.kinds_table):
            for r in range(t.rowCount()):
                out.append([it.text() if (it := t.item(r, c)) else "" for c in range(t.columnCount())])
        return out

    def closeEvent(self, event: Any) -> None:  # Qt API
        self.pane_a.close_pane()
        self.pane_b.close_pane()
        super().closeEvent(event)
