"""How a lifetime bar looks, per kind colour and outcome, drawn with plain `QPainter` calls.

Shared by the timeline item (bars) and the legend (swatches drawn exactly like the bars). No
pyqtgraph here, so the legend - shown at start-up - does not pull it in. GUI thread only.

Outcome styling (see `theme.OUTCOME_*`): kind colour everywhere; released bars muted; open bars
solid with a cap at "now" (they grow); released-with-error, exit-raised and gc bars outlined and
capped in their accent colour, gc bars hatched.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from . import theme as th


def outcome_brushes(colour: QColor, outcome: int) -> list[QBrush]:
    """The fill brushes of a bar of `colour` with `outcome` (drawn in order)."""
    c = QColor(colour)
    if outcome == th.OUT_OPEN:
        return [QBrush(c)]
    if outcome == th.OUT_GC:
        faint = QColor(c)
        faint.setAlpha(70)
        hatch = QBrush(QColor(c).darker(115), Qt.BrushStyle.BDiagPattern)
        return [QBrush(faint), hatch]
    c.setAlpha(150)
    return [QBrush(c)]


def outcome_accent(outcome: int, theme: th.Theme) -> QColor | None:
    if outcome == th.OUT_OPEN:
        return QColor(theme.foreground)
    acc = th.OUTCOME_ACCENT.get(outcome)
    return None if acc is None else QColor(acc)


def paint_swatch(p: QPainter, rect: QRectF, colour: QColor, outcome: int, theme: th.Theme) -> None:
    """One bar drawn exactly as the timeline draws it (for the legend)."""
    p.setPen(Qt.PenStyle.NoPen)
    for b in outcome_brushes(colour, outcome):
        p.setBrush(b)
        p.drawRect(rect)
    acc = outcome_accent(outcome, theme)
    if acc is not None:
        if outcome != th.OUT_OPEN:
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(acc, 0))
            p.drawRect(rect)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(acc)
        p.drawRect(QRectF(rect.right() - 2, rect.top(), 2, rect.height()))
