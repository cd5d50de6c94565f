"""The timeline legend: outcome styles (drawn exactly like the bars) and the colours of the kinds seen.

A painted widget (two rows, wrapping is by elision): cheap, crisp at any scaling. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import theme as th
from .timeline_item import paint_swatch

OUTCOME_ORDER = [th.OUT_OPEN, th.OUT_RELEASED, th.OUT_ERROR, th.OUT_EXIT_RAISED, th.OUT_GC]


class Legend(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kinds: list[str] = []
        self.theme = th.current()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "Bars: one per resource, from acquisition to release.\n"
            "Colour = kind. Style = outcome: open bars are solid and grow to now;\n"
            "released on error / __exit__ raised / released only by the garbage collector\n"
            "are outlined in red / pink / orange (GC bars are hatched)."
        )

    def set_kinds(self, kinds: list[str]) -> None:
        if kinds != self.kinds:
            self.kinds = kinds
            self.update()

    def set_theme(self, theme: th.Theme) -> None:
        self.theme = theme
        self.update()

    def sizeHint(self) -> QSize:
        fm = QFontMetrics(self.font())
        return QSize(600, fm.height() * 2 + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(100, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        fm = QFontMetrics(self.font())
        lh = fm.height()
        sw = max(14, int(lh * 1.4))
        fg, muted = QColor(self.theme.foreground), QColor(self.theme.muted)
        neutral = QColor("#8f9aa6")

        def row(y: int, title: str, items: list[tuple[str, QColor, int | None]]) -> None:
            x = 0
            p.setPen(muted)
            p.drawText(x, y + fm.ascent(), title)
            x += fm.horizontalAdvance(title) + 6
            for text, colour, outcome in items:
                need = sw + 4 + fm.horizontalAdvance(text) + 12
                if x + need > self.width():
                    p.setPen(muted)
                    p.drawText(x, y + fm.ascent(), "…")
                    return
                box = QRectF(x, y + 2, sw, lh - 4)
                if outcome is None:
                    p.setPen(Qt.PenStyle.NoPen)
                    p.setBrush(colour)
                    p.drawRoundedRect(box, 2, 2)
                else:
                    paint_swatch(p, box, colour, outcome, self.theme)
                p.setPen(fg)
                p.drawText(int(x + sw + 4), y + fm.ascent(), text)
                x += need

        row(1, "Outcome:", [(th.OUTCOME_TEXT[o], neutral, o) for o in OUTCOME_ORDER])
        kinds = [(k, th.kind_colour(k), None) for k in self.kinds] or [("(kinds appear as resources are seen)", muted,
                                                                          None)]
        row(lh + 4, "Kind:", kinds)
        p.end()
