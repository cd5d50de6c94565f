"""GUI benchmarks: timeline repaint, event-loop lag under load, start-up time.

- `timeline_frame_ms_100k` / `timeline_frame_ms_1m`: a `TimelineView` (offscreen, 1000 x 520 px plot
  area) holding 100,000 / 1,000,000 synthetic lifetimes (five kinds, ~1% each of open, error, gc,
  exit-raised), every one in view. Each round moves the view by a fraction of a pixel's worth of
  time, so nothing drawn before can be reused, and times one synchronous repaint of the plot.
  Median of rounds. The detail also gives the repaint when nothing changed (cached), and the time
  to load the lifetimes into the timeline (lane packing).
- `loop_lag_p99_ms`: the whole app (`MainWindow`, every dock) on its qasync loop, running a target
  that produces ~10,000 events/s (tracked blocks at a steady rate); a probe coroutine measures
  how late `asyncio.sleep(0.001)` wakes up. p99 of the overshoots.
- `startup_ratio`: `withscope --quit-after 0 --no-settings` (offscreen) until the process ends, vs
  `python -c "import PySide6.QtWidgets"`, both as subprocesses, interleaved; median of the ratios.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np
from common import Result

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

KINDS = ["file", "socket", "db.connection", "lock", "stream"]
PLOT_SIZE = (1000, 560)


def synthetic_lifetimes(n: int, span_s: float, seed: int = 1) -> dict[str, np.ndarray]:
    """`n` lifetimes spread over `span_s` seconds in five kinds: steady arrivals, mostly short holds
    (~3 concurrent per kind) plus 0.5% long ones (0.5-5 s); 1% released on error, 0.5% each
    exit-raised and gc, 0.01% still open."""
    rng = np.random.default_rng(seed)
    start = np.sort(rng.uniform(0.0, span_s, n))
    rate = n / span_s
    hold = rng.exponential(3.0 / rate * len(KINDS), n)
    long_ = rng.uniform(size=n) < 0.005
    hold[long_] = rng.uniform(0.5, 5.0, int(long_.sum()))
    end = start + hold
    outcome = np.zeros(n, np.int8)
    u = rng.uniform(size=n)
    outcome[u < 0.02] = 3
    outcome[u < 0.015] = 2
    outcome[u < 0.01] = 1
    open_ = u < 0.0001
    outcome[open_] = -1
    end[open_] = np.nan
    kind = rng.integers(0, len(KINDS), n)
    return {"start": start, "end": end, "outcome": outcome, "kind": kind}


def _load(bridge: Any, view: Any, data: dict[str, np.ndarray]) -> float:
    """Append the lifetimes to the bridge's store, publish them in one delta and lay them all out;
    seconds taken."""
    from withscope.gui.bridge import LifetimeDelta

    s = bridge.store
    n = len(data["start"])
    kind_ids = np.array([s.kind_id(k) for k in KINDS], np.int16)[data["kind"]]
    t0 = time.perf_counter()
    lo, hi = s.append(0, np.arange(n, dtype=np.int64), data["start"], data["end"], data["outcome"], kind_ids)
    bridge.lifetimesChanged.emit(LifetimeDelta(lo, hi, np.zeros(0, np.int64)))
    view.finish_layout()
    return time.perf_counter() - t0


def bench_timeline(n: int, rounds: int, key: str, target: str) -> Result:
    from PySide6.QtWidgets import QApplication
    from withscope.gui import theme as th
    from withscope.gui.bridge import Bridge
    from withscope.gui.timeline import TimelineView

    app = QApplication.instance() or QApplication([])
    th.apply(th.LIGHT)
    span = 100.0
    data = synthetic_lifetimes(n, span)
    bridge = Bridge()
    view = TimelineView(bridge)
    view.resize(*PLOT_SIZE)
    view.show()
    app.processEvents()
    load_s = _load(bridge, view, data)
    now = span * 1.01
    bridge.now_s = lambda: now  # type: ignore[method-assign]
    view.item.set_now(now)
    view.set_follow(False)
    vb = view.plot.getViewBox()
    y_top = view.layout_.total_height + 0.2
    viewport = view.plot.viewport()

    def frame(k: int) -> float:
        app.processEvents()
        eps = span * 1e-4 * (k % 7 + 1)  # a new scale every frame: nothing cached applies
        vb.setRange(xRange=(-eps, now + eps), yRange=(-0.5, y_top), padding=0)
        t0 = time.perf_counter()
        viewport.repaint()
        return (time.perf_counter() - t0) * 1e3

    for k in range(2):
        frame(k)
    cold = [frame(k) for k in range(rounds)]
    app.processEvents()
    cached = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        viewport.repaint()
        cached.append((time.perf_counter() - t0) * 1e3)
    visible = view.item.last_visible
    view.close()
    view.deleteLater()
    bridge.close()
    app.processEvents()
    value = statistics.median(cold)
    detail = (f"{visible:,} of {n:,} in view, {PLOT_SIZE[0]}x{PLOT_SIZE[1]} px; unchanged repaint "
              f"{statistics.median(cached):.1f} ms; load (lane packing) {load_s * 1e3:.0f} ms")
    return Result(key, value, "ms", target, detail, {"load_ms": load_s * 1e3, "cached_ms": statistics.median(cached)})


def run_all(quick: bool) -> list[Result]:
    out = [
        bench_timeline(10_000 if quick else 100_000, 3 if quick else 15, "timeline_frame_ms_100k", "<= 33"),
        bench_timeline(50_000 if quick else 1_000_000, 3 if quick else 11, "timeline_frame_ms_1m", "<= 50"),
    ]
    return out
