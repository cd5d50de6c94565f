"""The timeline legend: every style the timeline draws - outcome styles (drawn exactly like the
bars), the alert frames per severity and the selection (drawn by the same code as on the bars),
and the colours of the kinds seen.

A painted widget that wraps its entries over as many lines as its width needs (its height
follows). Cheap and crisp at any scaling. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget
from withscope.core.events import CODE_BY_OUTCOME, Outcome
from withscope.gui.style import theme as th
from withscope.gui.timeline.bar_style import paint_alert_swatch, paint_selection_swatch
from withscope.gui.timeline.timeline_item import paint_swatch

OUTCOME_ORDER = [CODE_BY_OUTCOME[o] for o in Outcome]  # the enum's order, as table codes
SEVERITY_ORDER = ["critical", "warning", "info"]
ALERT = "alert"  # entry styles besides outcome codes: the alert frame, the selection frame
SELECTED = "selected"
# text, colour, style (an outcome code, ALERT, SELECTED, or None: a kind's square), is_title
Entry = tuple[str, QColor, int | str | None, bool]


class Legend(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kinds: list[str] = []
        self.theme = th.current()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "One bar per resource, from acquisition to release. Colour = kind; style = outcome:\n"
            "open bars are solid and grow to now; bars released on error, whose __exit__ raised, or\n"
            "released only by the garbage collector (hatched) are outlined in red / pink / orange.\n"
            "A bar with a leak alert has a double frame in the alert's severity colour, set apart\n"
            "from the bar (an outline on the bar's own edge is its outcome); the selected bar is\n"
            "framed in blue."
        )
        self._height = 0

    def set_kinds(self, kinds: list[str]) -> None:
        if kinds != self.kinds:
            self.kinds = list(kinds)
            self._relayout()
            self.update()

    def set_theme(self, theme: th.Theme) -> None:
        self.theme = theme
        self.update()

    def _entries(self) -> list[Entry]:
        neutral = QColor("#8f9aa6")
        out: list[Entry] = [("Outcome", QColor(self.theme.muted), None, True)]
        out += [(th.OUTCOME_TEXT[o], neutral, o, False) for o in OUTCOME_ORDER]
        out.append(("Leak alert", QColor(self.theme.muted), None, True))
        out += [(sev, QColor(th.SEVERITY_COLOURS[sev]), ALERT, False) for sev in SEVERITY_ORDER]
        out.append((SELECTED, QColor(self.theme.selection), SELECTED, False))
        out.append(("Kind", QColor(self.theme.muted), None, True))
        if self.kinds:
            out += [(k, th.kind_colour(k), None, False) for k in self.kinds]
        else:
            out.append(("appear as resources are seen", QColor(self.theme.muted), None, True))
        return out

    def _layout(self, width: int) -> list[tuple[int, int, Entry]]:
        fm = QFontMetrics(self.font())
        lh = fm.height() + 4
        sw = max(14, int(fm.height() * 1.3))
        entries = self._entries()

        def need(e: Entry) -> int:
            text, _c, _o, title = e
            return fm.horizontalAdvance(text + (":" if title else "")) + (0 if title else sw + 5) + 14

        x = y = 0
        placed = []
        for i, e in enumerate(entries):
            # A title wraps with its first entry: never "Kind:" at the end of a row, its kinds below.
            keep = need(e) + (need(entries[i + 1]) if e[3] and i + 1 < len(entries) else 0)
            if x and x + keep > width:
                x, y = 0, y + lh
            placed.append((x, y, e))
            x += need(e)
        return placed

    def _relayout(self) -> None:
        placed = self._layout(max(100, self.width()))
        fm = QFontMetrics(self.font())
        h = (placed[-1][1] if placed else 0) + fm.height() + 6
        if h != self._height:
            self._height = h
            self.setFixedHeight(h)

    def sizeHint(self) -> QSize:  # Qt API
        return QSize(600, max(self._height, QFontMetrics(self.font()).height() + 6))

    def resizeEvent(self, event: QResizeEvent) -> None:  # Qt API
        super().resizeEvent(event)
        self._relayout()

    def paintEvent(self, event: QPaintEvent) -> None:  # Qt API
        p = QPainter(self)
        fm = QFontMetrics(self.font())
        sw = max(14, int(fm.height() * 1.3))
        fg = QColor(self.theme.foreground)
        for x, y, (text, colour, outcome, title) in self._layout(self.width()):
            base = y + 2 + fm.ascent()
            if title:
                p.setPen(colour)
                p.drawText(x, base, text + (":" if text[0].isupper() else ""))
                continue
            box = QRectF(x, y + 4, sw, fm.height() - 4)
            if outcome is None:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(colour)
                p.drawRoundedRect(box, 2, 2)
            elif outcome == ALERT:
                paint_alert_swatch(p, box, colour, self.theme)
            elif outcome == SELECTED:
                paint_selection_swatch(p, box, self.theme)
            else:
                assert isinstance(outcome, int)
                paint_swatch(p, box, colour, outcome, self.theme)
            p.setPen(fg)
            p.drawText(int(x + sw + 5), base, text)
        p.end()
