"""How wide the alerts table's columns must be to be read: the short ones (severity, rule, age) at
their longest text, the long ones (resource, site, hint) at least `LEAST_TEXT`. Qt-only and cheap:
the main window sizes the alerts dock from it before the dock itself (and numpy) is built."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QStyle
from withscope.core.rules import RULE_NAMES

LEAST_TEXT = "db.connection ….sqlite3"  # what a resource, a site and a hint show at least
PAD = 18  # a cell's margins


def column_needs(fm: QFontMetrics, icon: int = 16) -> tuple[list[int], int]:
    """(severity, rule, age) widths and the least width of each of resource, site and hint."""
    fixed = [fm.horizontalAdvance("critical") + max(icon, 16) + PAD + 6,
             max(fm.horizontalAdvance(r) for r in (*RULE_NAMES, "Rule")) + PAD,
             fm.horizontalAdvance("999.9 ms") + PAD]
    return fixed, fm.horizontalAdvance(LEAST_TEXT) + 12


def needed_width(fm: QFontMetrics, icon: int = 16) -> int:
    """The alerts dock's width at which every column is readable (no horizontal scrolling)."""
    fixed, least = column_needs(fm, icon)
    style = QApplication.style()
    scroll = style.pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) if style is not None else 16
    return sum(fixed) + 3 * least + scroll + 8
