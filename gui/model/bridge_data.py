"""Plain data the `Bridge` publishes to the views: a columnar `LifetimeStore` and small records.

No Qt here; GUI thread only (the bridge writes, views read).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from withscope.core.events import Alert, StreamStats


@dataclass(frozen=True, slots=True)
class LifetimeDelta:
    """Rows `lo..hi-1` are new; `updated` rows changed end/outcome. `reset`: everything changed."""

    lo: int
    hi: int
    updated: np.ndarray
    reset: bool = False


@dataclass(frozen=True, slots=True)
class RunAlert:
    run: int
    alert: Alert
    row: int | None  # store row of the alert's lifetime, if known


@dataclass(frozen=True, slots=True)
class RunStream:
    run: int
    stats: StreamStats


@dataclass(frozen=True, slots=True)
class RunMark:
    run: int
    t_s: float
    text: str


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """New process samples as columns (seconds since origin; MiB; counts; %)."""

    t_s: np.ndarray
    rss_mib: np.ndarray
    fds: np.ndarray
    threads: np.ndarray
    connections: np.ndarray
    cpu: np.ndarray

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass(frozen=True, slots=True)
class BridgeStats:
    running: tuple[str, ...]
    events_per_s: float
    dropped: int
    lifetimes: int
    open: int


class LifetimeStore:
    """Columns of every lifetime the bridge has seen, one row per (run, lifetime id).

    `end` is NaN while open. `outcome` uses the recorder codes (-1 open, 0 released, 1 error,
    2 exit raised, 3 gc, -2 withdrawn). GUI thread only.
    """

    _COLS = (
        ("run", np.int32),
        ("lid", np.int64),
        ("start", np.float64),
        ("end", np.float64),
        ("outcome", np.int8),
        ("kind", np.int16),
    )

    def __init__(self) -> None:
        self.n = 0
        # Invariant: min_start / max_end bound every row's start / known end (0.0 when empty),
        # kept up to date by append() and note_ends(), so views never rescan the columns.
        self.min_start = 0.0
        self.max_end = 0.0
        self.kinds: list[str] = []
        self._kind_ids: dict[str, int] = {}
        self._rows: dict[int, np.ndarray] = {}  # run -> lid - base -> row (-1 unknown)
        self._base: dict[int, int] = {}  # run -> the lid at index 0 of its `_rows` (raised by `take`)
        self.run = np.zeros(0, np.int32)
        self.lid = np.zeros(0, np.int64)
        self.start = np.zeros(0, np.float64)
        self.end = np.zeros(0, np.float64)
        self.outcome = np.zeros(0, np.int8)
        self.kind = np.zeros(0, np.int16)

    def __len__(self) -> int:
        return self.n

    def kind_id(self, name: str) -> int:
        k = self._kind_ids.get(name)
        if k is None:
            k = self._kind_ids[name] = len(self.kinds)
            self.kinds.append(name)
        return k

    def _grow(self, need: int) -> None:
        cap = len(self.run)
        if need <= cap:
            return
        new = max(need, cap * 2, 4096)
        for name, dtype in self._COLS:
            arr = np.zeros(new, dtype)
            arr[:cap] = getattr(self, name)
            setattr(self, name, arr)

    def append(
        self, run: int, lids: np.ndarray, start: np.ndarray, end: np.ndarray, outcome: np.ndarray, kind: np.ndarray
    ) -> tuple[int, int]:
        k = len(lids)
        lo = self.n
        self._grow(lo + k)
        hi = lo + k
        self.run[lo:hi] = run
        self.lid[lo:hi] = lids
        self.start[lo:hi] = start
        self.end[lo:hi] = end
        self.outcome[lo:hi] = outcome
        self.kind[lo:hi] = kind
        if k:
            self.min_start = float(start.min()) if lo == 0 else min(self.min_start, float(start.min()))
            self.note_ends(end)
        self.n = hi
        rows = self._rows.get(run)
        base = self._base.setdefault(run, 0)
        if k and int(lids.min()) < base:  # an id below the trimmed range: widen the map downwards
            low = int(lids.min())
            widened = np.full((0 if rows is None else len(rows)) + base - low, -1, np.int64)
            if rows is not None:
                widened[base - low :] = rows
            rows, base = self._rows[run], self._base[run] = widened, low
        top = int(lids.max()) - base + 1 if k else 0
        if rows is None or len(rows) < top:
            grown = np.full(max(top, 2 * (0 if rows is None else len(rows)), 1024), -1, np.int64)
            if rows is not None:
                grown[: len(rows)] = rows
            rows = self._rows[run] = grown
        rows[lids - base] = np.arange(lo, hi, dtype=np.int64)
        return lo, hi

    def note_ends(self, ends: np.ndarray) -> None:
        """Fold newly known end times into `max_end` (NaN = still open, ignored)."""
        if len(ends):
            top = np.nanmax(ends) if not np.isnan(ends).all() else np.nan
            if top == top:
                self.max_end = max(self.max_end, float(top))

    def rows_of(self, run: int, lids: np.ndarray) -> np.ndarray:
        """Store rows of `lids` of `run` (-1 where unknown)."""
        rows = self._rows.get(run)
        if rows is None:
            return np.full(len(lids), -1, np.int64)
        idx = lids - self._base.get(run, 0)
        ok = (idx >= 0) & (idx < len(rows))
        out = np.full(len(lids), -1, np.int64)
        out[ok] = rows[idx[ok]]
        return out

    def row_of(self, run: int, lid: int) -> int | None:
        r = int(self.rows_of(run, np.array([lid], np.int64))[0])
        return None if r < 0 else r

    def nbytes(self) -> int:
        """Bytes held by the columns and the id maps (capacity, not just the rows in use)."""
        cols: int = sum(getattr(self, name).nbytes for name, _ in self._COLS)
        return cols + sum(r.nbytes for r in self._rows.values())

    def take(self, rows: np.ndarray) -> LifetimeStore:
        """A new store of just `rows` (ascending), in that order: row `rows[i]` becomes row `i`.
        Kinds keep their ids; each run's id map starts at its lowest kept id."""
        out = LifetimeStore()
        out.kinds, out._kind_ids = list(self.kinds), dict(self._kind_ids)
        k = len(rows)
        for name, dtype in self._COLS:
            col = np.zeros(max(k, 4096), dtype)
            col[:k] = getattr(self, name)[rows]
            setattr(out, name, col)
        out.n = k
        if k:
            out.min_start = float(out.start[:k].min())
            out.max_end = self.max_end
        for run in np.unique(out.run[:k]).tolist():
            sel = np.flatnonzero(out.run[:k] == run)
            lids = out.lid[sel]
            base = int(lids.min())
            m = np.full(int(lids.max()) - base + 1, -1, np.int64)
            m[lids - base] = sel
            out._rows[run], out._base[run] = m, base
        return out


@dataclass(slots=True)
class AggregatedHistory:
    """Lifetimes taken out of the store to keep the app within its memory budget, as counts per
    kind (a `LifetimeStore` kind id) and `bin_s`-second bin of their start. GUI thread only."""

    bin_s: float = 1.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # [kind, bin]
    total: int = 0
    until_s: float = 0.0  # the latest start among them

    def add(self, start: np.ndarray, kind: np.ndarray) -> None:
        if not len(start):
            return
        bins = np.maximum(0, (start // self.bin_s).astype(np.int64))
        shape = (max(self.counts.shape[0], int(kind.max()) + 1), max(self.counts.shape[1], int(bins.max()) + 1))
        if shape != self.counts.shape:
            grown = np.zeros(shape, np.int64)
            grown[: self.counts.shape[0], : self.counts.shape[1]] = self.counts
            self.counts = grown
        np.add.at(self.counts, (kind.astype(np.int64), bins), 1)
        self.total += len(start)
        self.until_s = max(self.until_s, float(start.max()))


@dataclass(frozen=True, slots=True)
class Trim:
    """The store was replaced by a smaller one (`Bridge.trimmed`): `remap[old row]` is the new row
    (-1: aggregated into `history`)."""

    remap: np.ndarray
    history: AggregatedHistory
