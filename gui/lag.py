"""Event-loop lag: how late a periodic timer wakes up (the overshoot of a sleep), in ms.

`LagMonitor.start()` schedules itself with `loop.call_later` (no task: nothing to cancel or to
leak, and it cannot fail when Qt runs a callback while asyncio is not marked running);
`stop()` cancels the pending call. `latest_ms` and `percentile(p)` read the recent overshoots.
Loop thread only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class LagMonitor:
    def __init__(self, interval_s: float = 0.05, window: int = 200) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    @property
    def latest_ms(self) -> float:
        return self.samples[-1] if self.samples else 0.0

    def percentile(self, p: float) -> float:
        if not self.samples:
            return 0.0
        data = sorted(self.samples)
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if self._handle is None:
            self._loop = loop or asyncio.get_event_loop()
            self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        self._handle = self._loop.call_later(self.interval_s, self._tick, time.perf_counter())

    def _tick(self, t0: float) -> None:
        self.samples.append(max(0.0, (time.perf_counter() - t0 - self.interval_s) * 1e3))
        if self._handle is not None and self._loop is not None and not self._loop.is_closed():
            self._schedule()

    def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()
