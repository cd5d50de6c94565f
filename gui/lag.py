"""Event-loop lag: how late a periodic `asyncio.sleep` wakes up (the overshoot), in ms.

`LagMonitor.start()` runs one task on the running loop (kept by the monitor: strong reference);
`stop()` cancels and awaits it. `latest_ms` and `percentile(p)` read the recent overshoots.
Loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque


class LagMonitor:
    def __init__(self, interval_s: float = 0.05, window: int = 200) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    @property
    def latest_ms(self) -> float:
        return self.samples[-1] if self.samples else 0.0

    def percentile(self, p: float) -> float:
        if not self.samples:
            return 0.0
        data = sorted(self.samples)
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="withscope-lag-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self.samples.append(max(0.0, (time.perf_counter() - t0 - self.interval_s) * 1e3))
