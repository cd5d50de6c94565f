"""Per-pixel pre-aggregation of dense timelines: sub-pixel bars -> one image, O(pixels) to draw.

Most bars of a zoomed-out timeline are narrower than a pixel; drawing each as a rectangle costs
O(bars) in the raster engine on every frame. A `Raster` instead keeps a *priority grid*: one
int32 per (pixel row of a bar's top, pixel column) holding the `code` of the most important bar
that starts there (`np.maximum.at`, a few milliseconds for a million bars). The image is derived
from the grid - each code stretched down over the bar height, mapped to a colour - for the
columns that changed only. Appending bars touches a few columns; scrolling by whole pixels
shifts the grid and image and leaves only the uncovered columns to fill.

Codes: `priority << KIND_BITS | kind`, where the priority orders outcomes so that a leak is never
hidden by its neighbours: open > released on error > exit raised > gc > released. Code 0 is
"nothing here" (transparent).

No Qt state beyond the `QImage` wrapping the pixel buffer (kept alive with it); GUI thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage
from withscope.gui.style import theme as th

KIND_BITS = 12
MAX_KIND = (1 << KIND_BITS) - 1
# Outcome code (-2 withdrawn, -1 open, 0 released, 1 error, 2 exit raised, 3 gc) -> priority.
PRIORITY = {th.OUT_RELEASED: 1, th.OUT_GC: 2, th.OUT_EXIT_RAISED: 3, th.OUT_ERROR: 4, th.OUT_OPEN: 5}
_PRIO_BY_OUTCOME = np.array([0, PRIORITY[-1], PRIORITY[0], PRIORITY[1], PRIORITY[2], PRIORITY[3], 0, 0], np.int32)


def bar_codes(kind: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """The raster code of each bar (0 for withdrawn bars, which are never drawn)."""
    prio = _PRIO_BY_OUTCOME[(outcome.astype(np.int32) + 2) & 7]
    code: np.ndarray = (prio << KIND_BITS) | np.minimum(kind.astype(np.int32), MAX_KIND)
    code[prio == 0] = 0
    return code


def _argb(c: QColor) -> int:
    return (255 << 24) | (c.red() << 16) | (c.green() << 8) | c.blue()


def _blend(c: QColor, bg: QColor, alpha: float) -> QColor:
    return QColor(
        round(c.red() * alpha + bg.red() * (1 - alpha)),
        round(c.green() * alpha + bg.green() * (1 - alpha)),
        round(c.blue() * alpha + bg.blue() * (1 - alpha)),
    )


def colour_table(kinds: list[str], theme: th.Theme) -> np.ndarray:
    """uint32 ARGB per code: the colour a sub-pixel bar is painted with (0 = transparent)."""
    bg = QColor(theme.plot_background)
    lut = np.zeros((max(PRIORITY.values()) + 1) << KIND_BITS, np.uint32)
    for k, name in enumerate(kinds[: MAX_KIND + 1]):
        c = th.kind_colour(name)
        for outcome, prio in PRIORITY.items():
            if outcome == th.OUT_OPEN:
                colour = _argb(c)
            elif outcome == th.OUT_RELEASED:
                colour = _argb(_blend(c, bg, 150 / 255))
            else:
                acc = th.OUTCOME_ACCENT[outcome]
                colour = _argb(QColor(acc)) if acc else _argb(c)
            lut[(prio << KIND_BITS) | k] = colour
    return lut


class Scratch:
    """Reusable work arrays, so a render pass over a million bars does not allocate (and
    page-fault) tens of megabytes every time."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, n: int, dtype: type) -> np.ndarray:
        buf = self._bufs.get(name)
        if buf is None or len(buf) < n or buf.dtype != dtype:
            grown = max(n, 1024, int(len(buf) * 1.25) if buf is not None else 0)
            buf = self._bufs[name] = np.empty(grown, dtype)
        return buf[:n]


class Raster:
    """A priority grid of sub-pixel bars over a `width` x `height` pixel area, and its image.

    `reset()` sizes and empties it; `add()` folds bars in and returns the columns it touched;
    `expand()` recomputes the pixels of a column range from the grid; `shift()` moves everything
    sideways by whole pixels. `image()` wraps the pixels (ARGB32 premultiplied, transparent where
    no bar is) without copying. GUI thread only.
    """

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self.bar_h = 1
        self._pad = 0
        # Invariant: grid row r + _pad holds the bars whose top pixel row is r (r may be negative
        # down to -_pad: bars partly above the area still show their lower part). `grid` is a view
        # of `_cells`, whose one extra last cell takes the bars that do not show.
        self._cells = np.zeros(1, np.int32)
        self.grid = self._cells[:0].reshape(0, 0)
        self.pixels = np.zeros((0, 0), np.uint32)
        self.cells = 0  # bars folded in since reset (for tests/benchmarks)
        self.scratch = Scratch()

    def reset(self, width: int, height: int, bar_h: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self.bar_h = max(1, bar_h)
        self._pad = self.bar_h - 1
        shape = (self.height + self._pad, self.width)
        if self.grid.shape == shape:
            self._cells.fill(0)
        else:
            self._cells = np.zeros(shape[0] * shape[1] + 1, np.int32)
            self.grid = self._cells[:-1].reshape(shape)
        if self.pixels.shape == (self.height, self.width):
            self.pixels.fill(0)
        else:
            self.pixels = np.zeros((self.height, self.width), np.uint32)
        self.cells = 0

    def add(
        self, x: np.ndarray, top: np.ndarray, code: np.ndarray, c0: int = 0, c1: int | None = None,
        where: np.ndarray | None = None,
    ) -> tuple[int, int, int]:
        """Fold in bars starting at device x `x` with their top at device y `top` (both float,
        both modified in place), keeping those whose start column lies in [c0, c1), that show at
        least partly and - with `where` - whose `where` is True. Returns (bars kept, first touched
        column, last touched column + 1)."""
        c1 = self.width if c1 is None else c1
        m = len(x)
        if not m:
            return 0, c1, c0
        sc = self.scratch
        rows = self.height + self._pad
        top += self._pad  # grid row, as a float
        ok = np.greater_equal(x, c0, out=sc.get("ok", m, np.bool_))
        tmp = sc.get("tmp", m, np.bool_)
        ok &= np.less(x, c1, out=tmp)
        ok &= np.greater_equal(top, 0, out=tmp)
        ok &= np.less(top, rows, out=tmp)
        ok &= np.greater(code, 0, out=tmp)
        if where is not None:
            ok &= where
        kept = int(np.count_nonzero(ok))
        if not kept:
            return 0, c1, c0
        if kept * 2 < m:  # mostly dropped: work on the kept ones only
            x, top, code = x[ok], top[ok], code[ok]
            m = kept
        else:  # mostly kept: no copies; the dropped ones go to the spare cell
            np.clip(x, c0, c1 - 1, out=x)
            np.clip(top, 0, rows - 1, out=top)
        ci = sc.get("ci", m, np.int32)
        np.copyto(ci, x, casting="unsafe")  # truncation is floor: both are >= 0 here
        flat = sc.get("flat", m, np.int32)
        np.copyto(flat, top, casting="unsafe")
        flat *= self.width
        flat += ci
        if m > kept:
            np.copyto(flat, len(self._cells) - 1, where=~ok)
            lo, hi = c0, c1
        else:
            lo, hi = int(ci.min()), int(ci.max()) + 1
        np.maximum.at(self._cells, flat, code)
        self._cells[-1] = 0
        self.cells += kept
        return kept, lo, hi

    def expand(self, lut: np.ndarray, c0: int = 0, c1: int | None = None) -> None:
        """Recompute pixels[:, c0:c1] from the grid: every code stretched over `bar_h` rows."""
        c1 = self.width if c1 is None else min(c1, self.width)
        c0 = max(0, c0)
        if c0 >= c1:
            return
        g = self.grid[:, c0:c1]
        h = self.bar_h
        # Only the band of rows holding codes (short bars sit in a few lanes) is computed: pixel
        # row i shows grid rows i .. i+h-1, so pixels [a, b) can differ from empty.
        busy = np.flatnonzero(g.any(axis=1))
        a = max(0, int(busy[0]) - h + 1) if len(busy) else 0
        b = min(int(busy[-1]) + 1, self.height) if len(busy) else 0
        empty = lut.take(0)
        if a >= b:
            self.pixels[:, c0:c1] = empty
            return
        g = g[a : b + h - 1]
        if h > 1:
            # Sliding maximum over h grid rows (sparse-table doubling: log2(h) passes).
            rows, cols = g.shape
            m = self.scratch.get("expand", rows * cols, np.int32).reshape(rows, cols)
            np.copyto(m, g)
            span = 1
            while span * 2 <= h:
                np.maximum(m[:-span], m[span:], out=m[:-span])
                span *= 2
            if span < h:
                rest = h - span
                np.maximum(m[:-rest], m[rest:], out=m[:-rest])
            g = m
        self.pixels[:a, c0:c1] = empty
        self.pixels[b:, c0:c1] = empty
        self.pixels[a:b, c0:c1] = lut.take(g[: b - a], mode="clip")

    def shift(self, k: int) -> None:
        """Move the content by `k` columns (positive: to the right); uncovered columns are empty."""
        if k == 0:
            return
        if abs(k) >= self.width:
            self._cells.fill(0)
            self.pixels.fill(0)
            return
        for a in (self.grid, self.pixels):
            if k > 0:
                a[:, k:] = a[:, :-k]
                a[:, :k] = 0
            else:
                a[:, :k] = a[:, -k:]
                a[:, k:] = 0

    def image(self) -> QImage:
        """The pixels as a QImage sharing this raster's buffer (valid until the next reset)."""
        fmt = QImage.Format.Format_ARGB32_Premultiplied
        return QImage(self.pixels.data, self.width, self.height, self.width * 4, fmt)
