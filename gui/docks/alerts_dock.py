"""Leak alerts dock: a table of `Alert`s (newest first) with counts in the dock title.

Mirrors the alerts of `core/rules` as published by `Bridge.alertsAdded`. Selecting a row emits
`alertSelected(RunAlert)`; the window highlights the bar and shows the stack and source.
GUI thread only.
"""

from __future__ import annotations

import html
import math
import time
from collections import Counter

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)
from withscope.gui.bridge.bridge import Bridge, RunAlert, Trim
from withscope.gui.docks import alerts_columns
from withscope.gui.model.textcap import TEXT_CHARS, elide
from withscope.gui.style.theme import SEVERITY_COLOURS
from withscope.gui.timeline.timeline import format_duration

COLUMNS = ["Severity", "Rule", "Resource", "Age", "Site", "Hint"]
MAX_ALERTS = 5000
REPAINT_EVERY_S = 0.5  # the table repaints at most twice a second while alerts pour in
EMPTY_TEXT = "No leak alerts yet.\nRun a faulty workload: its alerts appear here while it runs."
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_DISPLAY, _DECORATION, _TOOLTIP = (int(r.value) for r in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                                                          Qt.ItemDataRole.ToolTipRole))
_ROLES = frozenset((_DISPLAY, _DECORATION, _TOOLTIP, int(Qt.ItemDataRole.UserRole.value)))

_icons: dict[str, QIcon] = {}


def severity_icon(severity: str) -> QIcon:
    icon = _icons.get(severity)
    if icon is None:
        pm = QPixmap(32, 32)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(SEVERITY_COLOURS.get(severity, "#8f8f8f")))
        p.drawEllipse(3, 3, 26, 26)
        p.setPen(QColor("white"))
        f = p.font()
        f.setBold(True)
        f.setPixelSize(20)
        p.setFont(f)
        p.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, {"critical": "!", "warning": "!", "info": "i"}.get(
            severity, "?"))
        p.end()
        icon = _icons[severity] = QIcon(pm)
    return icon


class AlertsModel(QAbstractTableModel):
    """Rows are `RunAlert`s, newest first (index 0). Bounded to `MAX_ALERTS`."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.rows: list[RunAlert] = []
        self._counts: Counter[str] = Counter()  # severity -> rows (kept with `rows`)
        # (run, store row) -> "kind label": a lifetime's kind and label never change, and reading
        # them back from the recorder on every paint of the table is what made it slow.
        self._resources: dict[tuple[int, int], str] = {}

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def add(self, alerts: list[RunAlert]) -> None:
        new = list(reversed(alerts))
        self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
        self.rows[:0] = new
        self._counts.update(str(r.alert.severity) for r in new)
        self.endInsertRows()
        if len(self.rows) > MAX_ALERTS:
            self.beginRemoveRows(QModelIndex(), MAX_ALERTS, len(self.rows) - 1)
            self._counts.subtract(str(r.alert.severity) for r in self.rows[MAX_ALERTS:])
            del self.rows[MAX_ALERTS:]
            self.endRemoveRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self._counts.clear()
        self._resources.clear()
        self.endResetModel()

    def resource(self, ra: RunAlert) -> str:
        s = self.bridge.store
        if ra.row is not None and ra.row < s.n:
            key = (ra.run, ra.row)
            text = self._resources.get(key)
            if text is None:
                lt = self.bridge.lifetime(ra.row)
                text = elide(f"{lt.kind} {lt.label}".strip() if lt is not None else s.kinds[int(s.kind[ra.row])])
                if len(self._resources) > 2 * MAX_ALERTS:
                    self._resources.clear()
                self._resources[key] = text
            return text
        return elide(ra.alert.message)

    def age(self, ra: RunAlert) -> str:
        s = self.bridge.store
        if ra.row is None or ra.row >= s.n:
            return ""
        end = float(s.end[ra.row])
        if np.isnan(end):
            end = self.bridge.now_s()
        return format_duration(max(0.0, end - float(s.start[ra.row])))

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        # Called for every role of every visible cell on each paint: unhandled roles return first.
        if role not in _ROLES or not index.isValid():
            return None
        ra = self.rows[index.row()]
        a = ra.alert
        col = index.column()
        if role == _DISPLAY:
            if col == 2:
                return self.resource(ra)
            if col == 3:
                return self.age(ra)
            return (str(a.severity), elide(a.rule), "", "", elide(a.site or ""), elide(a.hint))[col]
        if role == _DECORATION:
            return severity_icon(str(a.severity)) if col == 0 else None
        if role == _TOOLTIP:
            return (f"<b>{html.escape(elide(a.rule))}</b> ({a.severity})<br>{html.escape(elide(a.message, TEXT_CHARS))}"
                    f"<br><i>{html.escape(elide(a.hint, TEXT_CHARS))}</i>")
        return ra  # UserRole

    def counts(self) -> Counter[str]:
        return +self._counts  # without the severities whose alerts all fell off


class _ElideRight(QStyledItemDelegate):
    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


class AlertsDock(QDockWidget):
    alertSelected = Signal(object)  # RunAlert

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("Leak alerts", parent)
        self.setObjectName("alertsDock")
        self.bridge = bridge
        self.model = AlertsModel(bridge)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        hh = self.table.horizontalHeader()
        hh.setMinimumSectionSize(40)
        self.table.setColumnWidth(len(COLUMNS) - 1, 60)  # a stretched last section keeps this at least
        hh.setStretchLastSection(True)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # A hint reads from its start (the others keep both ends: paths, file names, line numbers).
        self._hint_delegate = _ElideRight(self.table)
        self.table.setItemDelegateForColumn(COLUMNS.index("Hint"), self._hint_delegate)
        # The columns share the table's width (fit_columns) until the user drags one.
        self._fitting = False
        self._user_sized = False
        hh.sectionResized.connect(self._on_section_resized)
        self.table.viewport().installEventFilter(self)
        self.fit_columns()
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        self.setWidget(self.stack)
        bridge.alertsAdded.connect(self.on_alerts)
        bridge.cleared.connect(self.on_cleared)
        bridge.lifetimesChanged.connect(self._relink)
        bridge.trimmed.connect(self._remap)
        # Ages of open resources keep growing: refresh that column once a second.
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(1000)
        self._age_timer.timeout.connect(self._refresh_ages)
        self._age_timer.start()
        self._last_age_refresh = time.monotonic()
        self._painted_at = -math.inf  # time.monotonic() the table was last allowed to repaint
        self._update_title()

    def column_needs(self) -> tuple[list[int], int]:
        """See `alerts_columns.column_needs` (for this table's font and icons)."""
        icon = self.table.iconSize().width() if self.table.iconSize().isValid() else 16
        return alerts_columns.column_needs(self.table.fontMetrics(), icon)

    def needed_width(self) -> int:
        """The dock width at which every column is readable (no horizontal scrolling)."""
        icon = self.table.iconSize().width() if self.table.iconSize().isValid() else 16
        return alerts_columns.needed_width(self.table.fontMetrics(), icon)

    def fit_columns(self) -> None:
        """Severity, rule and age at their text's width; resource, site and hint share the rest
        (hint the last, stretched), so the table reads without scrolling sideways when it is at
        least `needed_width` wide. A column the user dragged keeps what the user gave it."""
        if self._user_sized:
            return
        fixed, least = self.column_needs()
        # Narrower than `needed_width` (a layout the user made): the long columns give way - elided
        # further - before the table scrolls sideways.
        rest = max(3 * min(least, 60), self.table.viewport().width() - sum(fixed))
        resource = site = rest // 3  # and the hint (the stretched last section, >= 60 px) what is left
        self._fitting = True
        try:
            for col, w in zip((0, 1, 3, 2, 4), (*fixed, resource, site), strict=True):
                self.table.setColumnWidth(col, w)
        finally:
            self._fitting = False

    def _on_section_resized(self, col: int, _old: int, _new: int) -> None:
        if not self._fitting and col != len(COLUMNS) - 1:  # the stretched hint follows the others
            self._user_sized = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt API
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def on_alerts(self, alerts: list[RunAlert]) -> None:
        self.model.add(alerts)
        self.stack.setCurrentIndex(1)
        self._update_title()
        self._throttle_repaint()

    def _throttle_repaint(self) -> None:
        """New rows go on top, so every batch repaints the whole table: batches that come within
        `REPAINT_EVERY_S` of the last repaint are shown together when that time is up (the model
        itself is always current)."""
        if not self.bridge.frames.live:  # tests, replay seeking: no frames to spread over
            return
        now = time.monotonic()
        wait = REPAINT_EVERY_S - (now - self._painted_at)
        if wait <= 0:
            self._painted_at = now
        elif self.table.updatesEnabled():
            self.table.setUpdatesEnabled(False)
            QTimer.singleShot(max(1, round(wait * 1000)), self, self._request_repaint)

    def _request_repaint(self) -> None:
        self.bridge.frames.request(self._resume_repaint)  # in a slot of its own (frames.py)

    def _resume_repaint(self) -> None:
        self._painted_at = time.monotonic()
        self.table.setUpdatesEnabled(True)

    def on_cleared(self) -> None:
        self.model.clear()
        self.stack.setCurrentIndex(0)
        self._update_title()

    def _relink(self, _delta: object) -> None:
        """Alerts can arrive before their lifetime row: resolve rows once they exist."""
        store = self.bridge.store
        for i, ra in enumerate(self.model.rows[:200]):
            if ra.row is None and ra.alert.lifetime_id is not None:
                row = store.row_of(ra.run, ra.alert.lifetime_id)
                if row is not None:
                    self.model.rows[i] = RunAlert(ra.run, ra.alert, row)

    def _remap(self, trim: Trim) -> None:
        """The bridge's store was trimmed: rows moved (or were counted away: no row)."""
        remap = trim.remap
        for i, ra in enumerate(self.model.rows):
            if ra.row is not None:
                new = int(remap[ra.row]) if 0 <= ra.row < len(remap) else -1
                self.model.rows[i] = RunAlert(ra.run, ra.alert, new if new >= 0 else None)

    def _refresh_ages(self) -> None:
        n = self.model.rowCount()
        if n and self.isVisible():
            self.model.dataChanged.emit(self.model.index(0, 2), self.model.index(min(n, 500) - 1, 3))
            self._throttle_repaint()

    def _update_title(self) -> None:
        c = self.model.counts()
        total = sum(c.values())
        if not total:
            self.setWindowTitle("Leak alerts")
            return
        parts = [f"{c[s]} {s}" for s in sorted(c, key=lambda s: _SEVERITY_ORDER.get(s, 9))]
        self.setWindowTitle(f"Leak alerts — {total} ({', '.join(parts)})")

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.alertSelected.emit(self.model.rows[current.row()])

    def select_row(self, i: int) -> None:
        self.table.selectRow(i)

    def close_dock(self) -> None:
        self._age_timer.stop()
