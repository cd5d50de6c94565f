"""`Ring`: bounded history of float columns for strip charts (numpy, amortised O(1) append).

Keeps at most `capacity` rows; `view()` returns contiguous arrays of the rows kept, oldest first.
GUI thread only.
"""

from __future__ import annotations

import numpy as np


class Ring:
    def __init__(self, columns: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        # Invariant: rows [start, start+n) of _buf hold the history; _buf has 2*capacity rows so
        # appends rarely compact.
        self._buf = np.zeros((2 * capacity, columns), np.float64)
        self._start = 0
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def clear(self) -> None:
        self._start = 0
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        """Append rows (shape (k, columns)); the oldest fall off beyond `capacity`."""
        k = len(rows)
        if k == 0:
            return
        if k >= self.capacity:
            self._buf[: self.capacity] = rows[-self.capacity :]
            self._start, self.n = 0, self.capacity
            return
        end = self._start + self.n
        if end + k > len(self._buf):  # compact: keep the newest capacity-k rows at the front
            keep = min(self.n, self.capacity - k)
            self._buf[:keep] = self._buf[end - keep : end]
            self._start, self.n, end = 0, keep, keep
        self._buf[end : end + k] = rows
        self.n += k
        if self.n > self.capacity:
            drop = self.n - self.capacity
            self._start += drop
            self.n = self.capacity

    def view(self) -> np.ndarray:
        return self._buf[self._start : self._start + self.n]

    def column(self, i: int) -> np.ndarray:
        return self.view()[:, i]
