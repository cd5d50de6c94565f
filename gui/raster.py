"""Per-pixel pre-aggregation of dense timelines: many sub-pixel bars -> one image.

When tens of thousands of bars are in view, most are narrower than a pixel; drawing each as a
rectangle costs O(bars) in the raster engine. `rasterize()` instead writes each short bar's
colour into an ARGB numpy image (one pixel column, the bar's pixel rows) with a few vectorised
assignments - O(bars) numpy, O(pixels) drawing - and returns it as one `QImage`. Abnormal
outcomes are written last (open > error > exit raised > gc > released), so a leak is never hidden
by its neighbours. No Qt state beyond the returned image; GUI thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from . import theme as th

# Outcome codes (index = code + 2: -2 withdrawn, -1 open, 0 released, 1 error, 2 exit raised, 3 gc),
# in the order they are written (later wins a shared pixel).
WRITE_ORDER = (0, 3, 2, 1, -1)


def _argb(c: QColor) -> int:
    return (255 << 24) | (c.red() << 16) | (c.green() << 8) | c.blue()


def _blend(c: QColor, bg: QColor, alpha: float) -> QColor:
    return QColor(
        round(c.red() * alpha + bg.red() * (1 - alpha)),
        round(c.green() * alpha + bg.green() * (1 - alpha)),
        round(c.blue() * alpha + bg.blue() * (1 - alpha)),
    )


def colour_table(kinds: list[str], theme: th.Theme) -> np.ndarray:
    """uint32 ARGB per (kind, outcome code + 2): the colour a sub-pixel bar is painted with."""
    bg = QColor(theme.plot_background)
    lut = np.zeros((max(1, len(kinds)), 6), np.uint32)
    for k, name in enumerate(kinds):
        c = th.kind_colour(name)
        lut[k, th.OUT_OPEN + 2] = _argb(c)
        lut[k, th.OUT_RELEASED + 2] = _argb(_blend(c, bg, 150 / 255))
        for code in (th.OUT_ERROR, th.OUT_EXIT_RAISED, th.OUT_GC):
            acc = th.OUTCOME_ACCENT[code]
            lut[k, code + 2] = _argb(QColor(acc)) if acc else _argb(c)
    return lut


class Raster:
    """Reusable image buffer (kept alive while Qt draws from it)."""

    def __init__(self) -> None:
        self.buf = np.zeros((1, 1), np.uint32)
        self.image: QImage | None = None
        self.cells = 0

    def rasterize(
        self,
        width: int,
        height: int,
        x: np.ndarray,
        top: np.ndarray,
        bar_h: float,
        kind: np.ndarray,
        outcome: np.ndarray,
        lut: np.ndarray,
    ) -> QImage:
        """Paint bars (device x of their start, device y of their top) into a width x height image."""
        if self.buf.shape != (height, width):
            self.buf = np.zeros((height, width), np.uint32)
        else:
            self.buf.fill(0)
        flat_buf = self.buf.reshape(-1)
        hp = max(1, round(bar_h))
        # flat pixel index of each bar's top pixel; bars above/below the image are dropped
        row0 = top.astype(np.int32)  # truncation == floor for the visible (non-negative) rows
        ok = (row0 >= 0) & (row0 + hp <= height)
        if not ok.all():
            x, row0, kind, outcome = x[ok], row0[ok], kind[ok], outcome[ok]
        flat = row0.astype(np.int64) * width + np.clip(x, 0, width - 1).astype(np.int64)
        code = kind.astype(np.int32) * 6 + (outcome + 2)
        colour = lut.reshape(-1)[np.minimum(code, lut.size - 1)]
        self.cells = 0
        # One pass writes every bar; then the (usually few) abnormal ones again, most important
        # last, so they win the pixels they share with released bars.
        passes: list[tuple[np.ndarray, np.ndarray]] = [(flat, colour)]
        abnormal = np.flatnonzero(outcome != 0)
        if len(abnormal):
            a_out = outcome[abnormal]
            for out_code in WRITE_ORDER[1:]:
                m = abnormal[a_out == out_code]
                if len(m):
                    passes.append((flat[m], colour[m]))
        for f, v in passes:
            if hp > 3 and len(f) > width:  # tall bars: one write per distinct pixel, not per bar
                f, first = np.unique(f, return_index=True)
                v = v[first]
            self.cells += len(f)
            for k in range(hp):
                flat_buf[f + k * width] = v
        self.image = QImage(self.buf.data, width, height, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
        return self.image
