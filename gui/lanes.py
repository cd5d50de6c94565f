"""Lane layout of the timeline: which row each lifetime bar sits in.

Bars are grouped (by kind, or by run) and packed greedily inside each group: a new bar takes the
lowest row of its group that is free at its start time, so bars never overlap and a group is as
tall as its peak concurrency. `y` of a bar = the group's offset + its row.

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
        self.occupant: list[int] = []  # bar index last placed in each row

    def place(self, bar: int, start: float, end: float) -> int:
        busy, free = self.busy, self.free
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            row = heapq.heappop(free)
            self.occupant[row] = bar
        else:
            row = self.rows
            self.rows += 1
            self.occupant.append(bar)
        if end == end:  # closed already (not NaN)
            heapq.heappush(busy, (end, row))
        return row

    def close(self, bar: int, row: int, end: float) -> None:
        if 0 <= row < self.rows and self.occupant[row] == bar:
            heapq.heappush(self.busy, (end, row))


class LaneLayout:
    """Row assignment for bars identified by their store row index (0..n-1, appended in order).

    `add()` places new bars, `close()` frees the row of a bar whose end became known. Changing
    the grouping calls `rebuild()` with every bar.
    """

    def __init__(self) -> None:
        self._groups: list[_Group] = []
        self._group_ids: dict[str, int] = {}
        self.group = np.zeros(0, dtype=np.int32)
        self.row = np.zeros(0, dtype=np.int32)
        self.y = np.zeros(0, dtype=np.float64)
        self.n = 0
        self._offsets = np.zeros(0, dtype=np.float64)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

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

    def add(self, first: int, starts: np.ndarray, ends: np.ndarray, group_names: Sequence[str]) -> None:
        """Place bars `first .. first+len(starts)-1`; `ends` is NaN for open bars."""
        k = len(starts)
        if k == 0:
            return
        self._grow(first + k)
        gids = np.fromiter((self.group_id(name) for name in group_names), dtype=np.int32, count=k)
        rows_before = [g.rows for g in self._groups]
        order = np.argsort(starts, kind="stable")
        groups = self._groups
        row_out = self.row
        s_list = starts.tolist()
        e_list = ends.tolist()
        g_list = gids.tolist()
        for i in order.tolist():
            row_out[first + i] = groups[g_list[i]].place(first + i, s_list[i], e_list[i])
        self.group[first : first + k] = gids
        self.n = max(self.n, first + k)
        if len(rows_before) != len(groups) or any(g.rows != r for g, r in zip(groups, rows_before, strict=False)):
            self._relayout()
        else:
            self.y[first : first + k] = self._offsets[gids] + row_out[first : first + k]

    def close(self, bars: np.ndarray, ends: np.ndarray) -> None:
        """Bars whose end became known: free their rows from `ends` on."""
        groups = self._groups
        for bar, end in zip(bars.tolist(), ends.tolist(), strict=True):
            if 0 <= bar < self.n and end == end:
                groups[self.group[bar]].close(bar, int(self.row[bar]), end)

    def _relayout(self) -> None:
        offsets = np.zeros(len(self._groups), dtype=np.float64)
        y = 0.0
        for i, g in enumerate(self._groups):
            offsets[i] = y
            y += max(1, g.rows) + GROUP_GAP
        self._offsets = offsets
        n = self.n
        if n:
            self.y[:n] = offsets[self.group[:n]] + self.row[:n]

    def rebuild(self, starts: np.ndarray, ends: np.ndarray, group_names: Sequence[str]) -> None:
        """Forget everything and place all bars again (after a change of grouping)."""
        self.clear()
        self.add(0, starts, ends, group_names)
