"""Event-loop lag: how late a periodic timer wakes up (the overshoot of a sleep), in ms.

`LagMonitor.start()` schedules itself with `loop.call_later` (no task: nothing to cancel or to
leak, and it cannot fail when Qt runs a callback while asyncio is not marked running);
`stop()` cancels the pending call. `latest_ms` and `percentile(p)` read the overshoots of the last
`window_s` seconds only (a sliding window by time, not by count: a stall at start-up, or before
the app sat idle, leaves the reading once it is `window_s` old).
Loop thread only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 5.0


class LagMonitor:
    def __init__(self, interval_s: float = 0.05, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.interval_s = interval_s
        self.window_s = window_s
        self._clock = clock
        # (time the tick ran, overshoot in ms), oldest first. Invariant: bounded by window_s of
        # ticks (at most window_s / interval_s + 1 entries), trimmed on every append and read.
        self._samples: deque[tuple[float, float]] = deque()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def _trim(self, now: float) -> None:
        old = now - self.window_s
        s = self._samples
        while s and s[0][0] < old:
            s.popleft()

    @property
    def samples(self) -> list[float]:
        """Overshoots (ms) of the last `window_s` seconds, oldest first."""
        self._trim(self._clock())
        return [lag for _t, lag in self._samples]

    def add(self, lag_ms: float) -> None:
        now = self._clock()
        self._samples.append((now, lag_ms))
        self._trim(now)

    @property
    def latest_ms(self) -> float:
        s = self.samples
        return s[-1] if s else 0.0

    def percentile(self, p: float) -> float:
        data = sorted(self.samples)
        if not data:
            return 0.0
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if self._handle is None:
            self._loop = loop or asyncio.get_event_loop()
            self._schedule()

    def _schedule(self) -> None:
        assert self._loop is not None
        self._handle = self._loop.call_later(self.interval_s, self._tick, time.perf_counter())

    def _tick(self, t0: float) -> None:
        self.add(max(0.0, (time.perf_counter() - t0 - self.interval_s) * 1e3))
        if self._handle is not None and self._loop is not None and not self._loop.is_closed():
            self._schedule()

    def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()
