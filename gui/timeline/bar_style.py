"""How a lifetime bar looks, per kind colour and outcome, drawn with plain `QPainter` calls.

Shared by the timeline item (bars) and the legend (swatches drawn exactly like the bars). No
pyqtgraph here, so the legend - shown at start-up - does not pull it in. GUI thread only.

Outcome styling (see `theme.OUTCOME_*`): kind colour everywhere; released bars muted; open bars
solid with a cap at "now" (they grow); released-with-error, exit-raised and gc bars outlined and
capped in their accent colour, gc bars hatched.

Alert highlight (a bar some leak alert is about): a double frame in the severity colour set
`ALERT_GAP` px clear of the bar, all round - never on the bar's edge, where the outcome outlines
are, so a leaked bar's alert never reads as "released on error" (same red, other shape).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from withscope.gui.style import theme as th

ALERT_GAP = 2  # device px of background between a bar and its alert frame
ALERT_INSETS = (-(ALERT_GAP + 1), -(ALERT_GAP + 2))  # the frame's two 1 px rectangles, outside the bar


def alert_rects(rect: QRectF) -> list[QRectF]:
    """The 1 px rectangles of the alert frame around a bar drawn in `rect` (device pixels)."""
    return [rect.adjusted(d, d, -d, -d) for d in ALERT_INSETS]


def paint_alert_swatch(p: QPainter, rect: QRectF, colour: QColor, theme: th.Theme) -> None:
    """A neutral released bar with the alert frame, as the timeline draws it (for the legend)."""
    inner = rect.adjusted(-ALERT_INSETS[1], -ALERT_INSETS[1], ALERT_INSETS[1], ALERT_INSETS[1])
    paint_swatch(p, inner, QColor("#8f9aa6"), th.OUT_RELEASED, theme)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(colour, 0))
    for r in alert_rects(inner):
        p.drawRect(r)


def paint_selection_swatch(p: QPainter, rect: QRectF, theme: th.Theme) -> None:
    """A neutral released bar with the selection frame (for the legend)."""
    inner = rect.adjusted(3, 3, -3, -3)
    paint_swatch(p, inner, QColor("#8f9aa6"), th.OUT_RELEASED, theme)
    pen = QPen(QColor(theme.selection), 2)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(inner.adjusted(-2, -2, 2, 2))


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
