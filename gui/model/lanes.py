"""Lane layout of the timeline: which row each lifetime bar sits in.

Bars are grouped (by kind, or by run) and packed greedily inside each group: a new bar takes the
lowest row of its group that is free at its start time, so bars never overlap and a group is as
tall as its peak concurrency. `y` of a bar = the group's offset + its row.

Placing is a tight per-bar loop over each group's bars in start order (about half a microsecond a
bar); everything around it (group ids, offsets, y) is vectorised. Callers that load a very large
batch at once place it in slices (`TimelineView` does, a time budget per frame), so the loop never
blocks for long.

Pure numpy/Python, no Qt: GUI thread only (not thread-safe).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

GROUP_GAP = 0.8  # empty lane height between groups


class _Group:
    __slots__ = ("busy", "free", "name", "occupant", "rows")

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = 0
        self.free: list[int] = []  # heap of row indices free now
        self.busy: list[tuple[float, int]] = []  # heap of (end, row) of closed bars
        # Invariant: occupant[row] is the open bar holding `row` (-1: its bar's end is known and
        # already in `busy`), so closing a bar twice, or one placed closed, never frees a row twice.
        self.occupant: list[int] = []

    def place_many(self, bars: list[int], starts: list[float], ends: list[float]) -> list[int]:
        """Rows of `bars` (sorted by start), placed one after the other."""
        busy, free, occupant = self.busy, self.free, self.occupant
        push, pop = heapq.heappush, heapq.heappop
        rows = self.rows
        out: list[int] = []
        append = out.append
        for bar, start, end in zip(bars, starts, ends, strict=True):
            while busy and busy[0][0] <= start:
                push(free, pop(busy)[1])
            closed = end == end  # not NaN
            if free:
                row = pop(free)
                occupant[row] = -1 if closed else bar
            else:
                row = rows
                rows += 1
                occupant.append(-1 if closed else bar)
            if closed:
                push(busy, (end, row))
            append(row)
        self.rows = rows
        return out

    def close(self, bar: int, row: int, end: float) -> None:
        if 0 <= row < self.rows and self.occupant[row] == bar:
            self.occupant[row] = -1
            heapq.heappush(self.busy, (end, row))


class LaneLayout:
    """Row assignment for bars identified by their store row index (0..n-1, appended in order).

    `add()` places new bars, `close()` frees the row of a bar whose end became known. Changing
    the grouping calls `rebuild()` with every bar. `version` changes whenever the `y` of a bar
    placed earlier changes (a group grew and pushed the groups below it down, or a rebuild), so
    views can tell an append from a move.
    """

    def __init__(self) -> None:
        self._groups: list[_Group] = []
        self._group_ids: dict[str, int] = {}
        self.group = np.zeros(0, dtype=np.int32)
        self.row = np.zeros(0, dtype=np.int32)
        self.y = np.zeros(0, dtype=np.float64)
        self.n = 0
        self.version = 0
        self._offsets = np.zeros(0, dtype=np.float64)

    def clear(self) -> None:
        version = self.version
        self.__init__()  # type: ignore[misc]
        self.version = version + 1

    @property
    def total_height(self) -> float:
        if not self._groups:
            return 0.0
        return float(self._offsets[-1] + max(1, self._groups[-1].rows))

    def groups(self) -> list[tuple[str, float, int]]:
        """(name, top y, rows) of each group, in display order."""
        return [(g.name, float(self._offsets[i]), max(1, g.rows)) for i, g in enumerate(self._groups)]

    def group_id(self, name: str) -> int:
        gid = self._group_ids.get(name)
        if gid is None:
            gid = self._group_ids[name] = len(self._groups)
            self._groups.append(_Group(name))
        return gid

    def group_ids(self, keys: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Group id of every bar whose group is `names[key]` (`keys`: small non-negative ints,
        e.g. kind ids). New groups are created in order of first appearance."""
        if not len(keys):
            return np.zeros(0, np.int32)
        uniq, first = np.unique(keys, return_index=True)
        table = np.zeros(int(uniq[-1]) + 1, np.int32)
        for i in np.argsort(first, kind="stable").tolist():
            table[int(uniq[i])] = self.group_id(names[int(uniq[i])])
        groups: np.ndarray = table[keys]
        return groups

    def _grow(self, n: int) -> None:
        cap = len(self.row)
        if n <= cap:
            return
        new = max(n, cap * 2, 1024)
        for attr, dtype in (("group", np.int32), ("row", np.int32), ("y", np.float64)):
            old = getattr(self, attr)
            arr = np.zeros(new, dtype=dtype)
            arr[:cap] = old
            setattr(self, attr, arr)

    def add(self, first: int, starts: np.ndarray, ends: np.ndarray, groups: Sequence[str] | np.ndarray) -> None:
        """Place bars `first .. first+len(starts)-1`; `ends` is NaN for open bars. `groups`: a group
        name per bar, or group ids (from `group_ids()`)."""
        k = len(starts)
        if k == 0:
            return
        self._grow(first + k)
        if isinstance(groups, np.ndarray):
            gids = groups.astype(np.int32, copy=False)
        else:
            gids = np.fromiter((self.group_id(name) for name in groups), dtype=np.int32, count=k)
        rows_before = [g.rows for g in self._groups]
        # Bars in start order, grouped: one tight loop per group.
        order = np.lexsort((starts, gids))
        g_sorted = gids[order]
        cuts = np.flatnonzero(np.diff(g_sorted)) + 1
        out = np.empty(k, np.int32)
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), k], strict=True):
            sel = order[a:b]
            group = self._groups[int(g_sorted[a])]
            out[sel] = group.place_many((sel + first).tolist(), starts[sel].tolist(), ends[sel].tolist())
        self.row[first : first + k] = out
        self.group[first : first + k] = gids
        self.n = max(self.n, first + k)
        if len(rows_before) != len(self._groups) or any(
            g.rows != r for g, r in zip(self._groups, rows_before, strict=False)
        ):
            self._relayout()
        else:
            self.y[first : first + k] = self._offsets[gids] + out

    def close(self, bars: np.ndarray, ends: np.ndarray) -> None:
        """Bars whose end became known: free their rows from `ends` on."""
        groups = self._groups
        ok = (bars >= 0) & (bars < self.n) & ~np.isnan(ends)
        bars, ends = bars[ok], ends[ok]
        for bar, g, row, end in zip(
            bars.tolist(), self.group[bars].tolist(), self.row[bars].tolist(), ends.tolist(), strict=True
        ):
            groups[g].close(bar, row, end)

    def _relayout(self) -> None:
        old = self._offsets
        offsets = np.zeros(len(self._groups), dtype=np.float64)
        y = 0.0
        for i, g in enumerate(self._groups):
            offsets[i] = y
            y += max(1, g.rows) + GROUP_GAP
        self._offsets = offsets
        if len(old) and not np.array_equal(old, offsets[: len(old)]):
            self.version += 1  # bars placed before moved
        n = self.n
        if n:
            self.y[:n] = offsets[self.group[:n]] + self.row[:n]

