"""Workload catalogue dock (left): patterns with their correct and faulty variants.

Mirrors `core.workloads.patterns()` -> [(pattern_id, pattern_title, [Workload, ...])]. Selecting
a variant shows its title and narration; Run / Stop / Run N times / Clear and "Open target..."
emit requests the window carries out (the dock starts nothing itself). GUI thread only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from withscope.gui.style import theme as th

NAME_ROLE = Qt.ItemDataRole.UserRole
EMPTY_HTML = "<p style='color:{muted}'>Select a workload to read what it does and what to look for.</p>"


def badge_icon(variant: str) -> QIcon:
    """A small round badge: red "!" for faulty variants, green tick for correct ones."""
    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#e15759" if variant == "faulty" else "#59a14f"))
    p.drawEllipse(4, 4, 24, 24)
    p.setPen(QColor("white"))
    f = p.font()
    f.setBold(True)
    f.setPixelSize(18)
    p.setFont(f)
    p.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, "!" if variant == "faulty" else "✓")
    p.end()
    return QIcon(pm)


class CatalogueDock(QDockWidget):
    runRequested = Signal(list, int)  # workload names, repeat count
    stopRequested = Signal()
    clearRequested = Signal()
    openTargetRequested = Signal()

    def __init__(self, patterns: Sequence[tuple[str, str, Sequence[Any]]] = (), parent: QWidget | None = None) -> None:
        super().__init__("Workloads", parent)
        self.setObjectName("catalogueDock")
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.description = QTextBrowser()
        self.description.setOpenLinks(False)

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the selected workloads (Ctrl+R); several can run at once")
        self.run_button.clicked.connect(self.request_run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Cancel every running workload and release what it holds (Ctrl+.)")
        self.stop_button.clicked.connect(self.stopRequested)
        self.stop_button.setEnabled(False)
        self.repeat = QSpinBox()
        self.repeat.setRange(1, 1000)
        self.repeat.setPrefix("× ")
        self.repeat.setToolTip("Run N times: repeats expose growth (fds, connections, memory) across runs")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Forget finished runs and clear every view (Ctrl+L)")
        self.clear_button.clicked.connect(self.clearRequested)
        self.open_button = QPushButton("Open target…")
        self.open_button.setToolTip("Run your own code: pick a file.py and a function (file.py:function)")
        self.open_button.clicked.connect(self.openTargetRequested)

        # Fusion's buttons are at least 80 px wide whatever their text: four in a row made the dock
        # (and so the first window's left column) 340 px at least; their text is what they need.
        for b in (self.run_button, self.stop_button, self.clear_button):
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance(b.text()) + 20)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.repeat)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.clear_button)
        top = QWidget()
        top_box = QVBoxLayout(top)
        top_box.setContentsMargins(6, 6, 6, 6)
        top_box.setSpacing(6)
        top_box.addWidget(self.tree, 1)
        top_box.addLayout(buttons)
        top_box.addWidget(self.open_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.description)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.setWidget(split)
        self._workloads: dict[str, Any] = {}
        self.set_patterns(patterns)
        self._on_selection()

    def set_patterns(self, patterns: Sequence[tuple[str, str, Sequence[Any]]]) -> None:
        self.tree.clear()
        self._workloads.clear()
        icons = {"faulty": badge_icon("faulty"), "correct": badge_icon("correct")}
        for pattern_id, title, workloads in patterns:
            parent = QTreeWidgetItem([title])
            parent.setFlags(parent.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            parent.setToolTip(0, pattern_id)
            f = parent.font(0)
            f.setBold(True)
            parent.setFont(0, f)
            self.tree.addTopLevelItem(parent)
            for w in workloads:
                variant = str(getattr(w, "variant", ""))
                child = QTreeWidgetItem([f"{variant}  ·  {w.title}" if variant else w.title])
                child.setData(0, NAME_ROLE, w.name)
                child.setIcon(0, icons.get(variant, QIcon()))
                child.setToolTip(0, f"<b>{html.escape(w.name)}</b><br>{html.escape(w.narration)}")
                if variant == "faulty":
                    child.setForeground(0, QColor("#c0392b") if not th.current().dark else QColor("#ff7b72"))
                parent.addChild(child)
                self._workloads[w.name] = w
            parent.setExpanded(True)

    def selected_names(self) -> list[str]:
        return [str(it.data(0, NAME_ROLE)) for it in self.tree.selectedItems() if it.data(0, NAME_ROLE)]

    def select(self, names: Sequence[str]) -> None:
        self.tree.clearSelection()
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            assert parent is not None  # i < topLevelItemCount()
            for j in range(parent.childCount()):
                child = parent.child(j)
                assert child is not None  # j < childCount()
                if child.data(0, NAME_ROLE) in names:
                    child.setSelected(True)
                    self.tree.scrollToItem(child)

    def request_run(self) -> None:
        names = self.selected_names()
        if names:
            self.runRequested.emit(names, self.repeat.value())

    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)

    def _on_double_click(self, item: QTreeWidgetItem, _col: int) -> None:
        if item.data(0, NAME_ROLE):
            self.request_run()

    def _on_selection(self) -> None:
        names = self.selected_names()
        self.run_button.setEnabled(bool(names))
        t = th.current()
        if not names:
            self.description.setHtml(EMPTY_HTML.format(muted=t.muted))
            return
        parts = []
        for name in names[:4]:
            w = self._workloads.get(name)
            if w is None:
                continue
            variant = str(getattr(w, "variant", ""))
            colour = "#e15759" if variant == "faulty" else "#59a14f"
            expected = sorted(getattr(w, "expected_rules", ()) or ())
            rules = (f"<p style='color:{t.muted}'>Expected alerts: {html.escape(', '.join(expected))}</p>"
                     if expected else f"<p style='color:{t.muted}'>Expected alerts: none</p>")
            parts.append(
                f"<h3 style='margin-bottom:2px'>{html.escape(w.title)}</h3>"
                f"<p style='margin-top:0'><span style='color:{colour};font-weight:600'>{variant}</span>"
                f" · <code>{html.escape(w.name)}</code></p>"
                f"<p>{html.escape(w.narration)}</p>{rules}"
            )
        self.description.setHtml("".join(parts))
