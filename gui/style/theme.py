"""Colours and the light/dark theme.

One place decides how things look: kind colours, outcome styles, severity colours and the two
palettes. `Theme.system()` follows the desktop's colour scheme; `apply(app, theme)` switches at run
time and notifies views through `ThemeNotifier.changed` so plots can recolour.

GUI thread only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

# The outcome codes are re-exported (`as` names) for the views' style tables.
from withscope.core.events import OUT_EXIT_RAISED as OUT_EXIT_RAISED
from withscope.core.events import OUT_GC as OUT_GC
from withscope.core.events import OUT_OPEN as OUT_OPEN
from withscope.core.events import OUT_RELEASED as OUT_RELEASED
from withscope.core.events import OUT_RELEASED_WITH_ERROR

# Colour-blind-friendly palette (Tableau 10 without its red, which is reserved for errors).
KIND_COLOURS: dict[str, str] = {
    "file": "#4e79a7",
    "tempfile": "#76b7b2",
    "tempdir": "#59a14f",
    "socket": "#b07aa1",
    "db.connection": "#9c755f",
    "db.pool": "#8cd17d",
    "db.cursor": "#bab0ac",
    "db.transaction": "#a0cbe8",
    "pool.checkout": "#f1ce63",
    "stream": "#86bcb6",
    "stream.writer": "#d4a6c8",
    "exitstack": "#79706e",
    "context": "#499894",
    "lock": "#d7b5a6",
    "process": "#b6992d",
    "resource": "#8f8f8f",
}
_FALLBACK = ["#4e79a7", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2", "#edc948", "#86bcb6", "#d4a6c8"]

# Outcome codes as stored in the recorder table: core/events.py's (OUT_ERROR is its
# OUT_RELEASED_WITH_ERROR, shorter where the views spell out style tables).
OUT_ERROR = OUT_RELEASED_WITH_ERROR
OUTCOME_TEXT: dict[int, str] = {
    OUT_OPEN: "open (growing)",
    OUT_RELEASED: "released",
    OUT_ERROR: "released on error",
    OUT_EXIT_RAISED: "__exit__ raised",
    OUT_GC: "released by GC",
}
# Accent of each outcome (outline / end tick); None = no accent.
OUTCOME_ACCENT: dict[int, str | None] = {
    OUT_OPEN: None,  # uses the theme foreground
    OUT_RELEASED: None,
    OUT_ERROR: "#e15759",
    OUT_EXIT_RAISED: "#d63384",
    OUT_GC: "#f28e2b",
}
SEVERITY_COLOURS = {"critical": "#e15759", "warning": "#f28e2b", "info": "#4e79a7"}
METRIC_COLOURS = {
    "rss": "#4e79a7",
    "fds": "#f28e2b",
    "threads": "#59a14f",
    "connections": "#b07aa1",
    "cpu": "#e15759",
}


def kind_colour(kind: str) -> QColor:
    """A stable colour per kind (unknown kinds hash into the fallback palette)."""
    hexcode = KIND_COLOURS.get(kind)
    if hexcode is None:
        hexcode = _FALLBACK[zlib.crc32(kind.encode()) % len(_FALLBACK)]
    return QColor(hexcode)


@dataclass(frozen=True, slots=True)
class Theme:
    name: str  # "light" | "dark"
    background: str
    plot_background: str
    foreground: str
    muted: str
    grid: str
    band: str  # alternating lane-group background
    selection: str

    @property
    def dark(self) -> bool:
        return self.name == "dark"

    @staticmethod
    def named(name: str) -> Theme:
        return DARK if name == "dark" else LIGHT

    @staticmethod
    def system() -> Theme:
        """The theme matching the desktop colour scheme (light when unknown)."""
        hints = QGuiApplication.styleHints()
        scheme = hints.colorScheme() if hints is not None else Qt.ColorScheme.Unknown
        return DARK if scheme == Qt.ColorScheme.Dark else LIGHT


LIGHT = Theme(
    name="light",
    background="#f6f7f9",
    plot_background="#ffffff",
    foreground="#1f2328",
    muted="#6e7781",
    grid="#d0d7de",
    band="#f0f3f6",
    selection="#0969da",
)
DARK = Theme(
    name="dark",
    background="#1e2227",
    plot_background="#16191d",
    foreground="#e6edf3",
    muted="#8b949e",
    grid="#30363d",
    band="#1c2026",
    selection="#58a6ff",
)


class ThemeNotifier(QObject):
    """Emits `changed(theme)` when `apply()` switches the theme."""

    changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.theme: Theme = LIGHT


_notifier: ThemeNotifier | None = None


def notifier() -> ThemeNotifier:
    global _notifier
    if _notifier is None:
        _notifier = ThemeNotifier()
    return _notifier


def current() -> Theme:
    return notifier().theme


def palette_for(theme: Theme) -> QPalette:
    pal = QPalette()
    bg, fg = QColor(theme.background), QColor(theme.foreground)
    base = QColor(theme.plot_background)
    muted = QColor(theme.muted)
    pal.setColor(QPalette.ColorRole.Window, bg)
    pal.setColor(QPalette.ColorRole.WindowText, fg)
    pal.setColor(QPalette.ColorRole.Base, base)
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(theme.band))
    pal.setColor(QPalette.ColorRole.Text, fg)
    pal.setColor(QPalette.ColorRole.Button, bg.lighter(108) if theme.dark else bg)
    pal.setColor(QPalette.ColorRole.ButtonText, fg)
    pal.setColor(QPalette.ColorRole.ToolTipBase, base)
    pal.setColor(QPalette.ColorRole.ToolTipText, fg)
    pal.setColor(QPalette.ColorRole.Highlight, QColor(theme.selection))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, muted)
    pal.setColor(QPalette.ColorRole.Link, QColor(theme.selection))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, muted)
    return pal


def apply(theme: Theme, app: QApplication | None = None) -> None:
    """Switch the application palette and tell every view (`notifier().changed`)."""
    qapp = app or QApplication.instance()
    if isinstance(qapp, QApplication):
        qapp.setPalette(palette_for(theme))
        qapp.setStyleSheet(stylesheet(theme))
    n = notifier()
    n.theme = theme
    n.changed.emit(theme)


def stylesheet(theme: Theme) -> str:
    """A few rules the palette cannot express (dock titles, message bar, badges)."""
    error_bg = "#3b1f22" if theme.dark else "#fdecea"
    info_bg = "#1b2a3b" if theme.dark else "#e8f1fc"
    return f"""
QDockWidget::title {{ padding: 4px 6px; background: {theme.background}; }}
QToolBar {{ spacing: 4px; border: none; padding: 2px 4px; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QLabel#emptyState {{ color: {theme.muted}; font-size: 11pt; }}
QLabel#detailsTitle {{ font-weight: 600; font-size: 11pt; }}
QFrame#messageBar {{ border: 1px solid #e15759; border-radius: 4px; background: {error_bg}; }}
QFrame#messageBar[level="info"] {{ border-color: {theme.selection}; background: {info_bg}; }}
QTableView, QTreeView {{ gridline-color: {theme.grid}; }}
"""
