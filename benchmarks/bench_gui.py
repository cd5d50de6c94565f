"""GUI benchmarks: timeline repaint, event-loop lag under load, start-up time.

- `timeline_frame_ms_100k` / `timeline_frame_ms_1m`: a `TimelineView` (offscreen, 1000 x 520 px plot
  area) holding 100,000 / 1,000,000 synthetic lifetimes (five kinds, ~1% each of open, error, gc,
  exit-raised), every one in view. Each round moves the view by a fraction of a pixel's worth of
  time, so nothing drawn before can be reused, and times one synchronous repaint of the plot.
  Median of rounds. The detail also gives the repaint when nothing changed (cached), and the time
  to load the lifetimes into the timeline (lane packing).
- `loop_lag_p99_ms`: the whole app (`MainWindow`, every dock) on its qasync loop, running a target
  that produces ~10,000 events/s (tracked blocks at a steady rate, a few held longer, one tracked
  stream); after a warm-up, a probe coroutine measures how late `asyncio.sleep(0.001)` wakes up.
  p99 of the overshoots; the detail gives the event rate the bridge saw and the CPU load (the
  run's process tree, the app, the whole machine, the load average): a latency, kept in ms.
- `loop_lag_cpu_child_p99_ms`: the same probe while the app's child runs a tight CPU loop of
  tracked blocks with no sleep (it burns a core and streams as many events as it can; the app folds
  and draws them). First, in the same app, the probe runs as long beside an unobserved
  `python -c "while True: pass"` child: that p99 (the machine's share of the lag) is in the detail.
- `startup_ratio`: from spawning `withscope --quit-after 0 --no-settings` (offscreen) to its first
  shown window, vs the whole `python -c "import PySide6.QtWidgets"` process; interleaved, median of
  the per-round ratios. The app runs with `WITHSCOPE_STARTUP_MARK=1`, so it prints one line on
  stdout on the loop turn after its window was first exposed and painted (the frame: menus,
  toolbar, catalogue, status bar, docks, with placeholders where the plots are still loading; see
  gui/shell/startup.py); the time is taken when that line arrives. The child then builds its plots,
  quits and is waited for: the detail and `extra` also give that whole-process time.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
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
    from withscope.gui.bridge.bridge import LifetimeDelta

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
    from withscope.gui.bridge.bridge import Bridge
    from withscope.gui.shell.app import quiet_qt_messages
    from withscope.gui.style import theme as th
    from withscope.gui.timeline.timeline import TimelineView

    quiet_qt_messages()
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


# ---------------------------------------------------------------------------- loop lag
_WORKLOAD = r"""
import asyncio, time
from withscope.core import track, track_stream

RATE = {rate}  # tracked blocks per second: 2 events each (acquire, release)


class Conn:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


async def chunks():
    while True:
        await asyncio.sleep(0.01)
        yield b"x" * 4096


async def steady():
    # RATE blocks per second, produced in small steps between loop turns; every 100th is held
    # for ~0.2 s (visible bars, a few open at any time); a stream feeds the throughput dock.
    async def stream():
        async for _ in track_stream(chunks(), "feed"):
            pass

    feeder = asyncio.ensure_future(stream())
    held = []
    t0 = time.perf_counter()
    done = 0
    try:
        while True:  # until the run is cancelled
            due = int((time.perf_counter() - t0) * RATE)
            while done < due:
                done += 1
                if done % 100 == 0:
                    h = track(Conn(), kind="db.connection").__enter__()
                    held.append((time.perf_counter() + 0.2, h))
                else:
                    with track(Conn(), kind="lock"):
                        pass
            now = time.perf_counter()
            while held and held[0][0] <= now:
                held.pop(0)[1].__exit__(None, None, None)
            await asyncio.sleep(0.001)
    finally:
        feeder.cancel()
        for _t, h in held:
            h.__exit__(None, None, None)
"""


_CPU_WORKLOAD = r"""
from withscope.core import track


class Conn:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def burn():
    # A tight CPU loop of tracked blocks, no sleep, until the run is stopped: the child burns a
    # core and produces events as fast as it can.
    while True:
        with track(Conn(), kind="lock"):
            pass
"""


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's descendants alive now."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def bench_loop_lag(seconds: float, warmup_s: float, events_per_s: int, *, cpu_child: bool = False) -> Result:
    """The app's loop lag with the steady workload (`loop_lag_p99_ms`) or, with `cpu_child`, while
    its child runs `_CPU_WORKLOAD` at full speed (`loop_lag_cpu_child_p99_ms`)."""
    import psutil
    import qasync
    from PySide6.QtWidgets import QApplication
    from withscope.gui.shell.app import SCREENSHOT_SIZE, load_patterns, quiet_qt_messages
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.style import theme as th

    quiet_qt_messages()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    th.apply(th.LIGHT)
    tmp = Path(tempfile.mkdtemp(prefix="withscope-bench-"))
    if cpu_child:
        target = tmp / "cpu_workload.py"
        target.write_text(_CPU_WORKLOAD)
        spec = f"{target}:burn"
    else:
        target = tmp / "steady_workload.py"
        target.write_text(_WORKLOAD.format(rate=events_per_s // 2))
        spec = f"{target}:steady"
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    win = MainWindow(patterns=load_patterns(), settings=None)
    win.resize(*SCREENSHOT_SIZE)
    win.show()
    rates: list[float] = []
    win.bridge.statsChanged.connect(lambda st: rates.append(st.events_per_s))

    load: dict[str, float] = {}

    bare_overs: list[float] = []

    async def probe(until: float) -> list[float]:
        overs: list[float] = []
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            overs.append((time.perf_counter() - t0 - 0.001) * 1e3)
        return overs

    async def scenario() -> list[float]:
        win.start()
        if cpu_child:
            # The machine's share of the lag: the same app, idle, beside an unobserved child that
            # burns a core (`python -c "while True: pass"`), probed just as long.
            await asyncio.sleep(warmup_s)
            burner = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
            try:
                await asyncio.sleep(0.2)
                bare_overs.extend(await probe(time.perf_counter() + seconds))
            finally:
                burner.kill()
                await burner.wait()
        win.run_workloads([spec])
        await asyncio.sleep(warmup_s)  # docks built, history of a few seconds on screen
        rates.clear()
        psutil.cpu_percent(None)
        kids0, own0, w0 = _children_cpu_s(), time.process_time(), time.perf_counter()
        overs = await probe(time.perf_counter() + seconds)
        wall = time.perf_counter() - w0
        load.update(child=(_children_cpu_s() - kids0) / wall * 100, app=(time.process_time() - own0) / wall * 100,
                    machine=psutil.cpu_percent(None), load1=os.getloadavg()[0])
        closed = asyncio.Event()
        win.closed.connect(closed.set)
        win.close()
        await closed.wait()
        return overs

    try:
        overs = loop.run_until_complete(scenario())
    finally:
        win.deleteLater()
        app.processEvents()
        loop.close()
        asyncio.set_event_loop(None)
    overs.sort()
    p99 = overs[min(len(overs) - 1, int(0.99 * len(overs)))]
    eps = statistics.median(rates) if rates else 0.0
    errors = win.controller.errors
    detail = (f"{eps:,.0f} events/s recorded, {len(overs):,} sleeps over {seconds:g} s; median "
              f"{overs[len(overs) // 2]:.2f} ms, max {overs[-1]:.1f} ms; CPU: child {load['child']:.0f} %, "
              f"app {load['app']:.0f} % of one core, machine {load['machine']:.0f} % of {os.cpu_count()} cores, "
              f"load average {load['load1']:.2f}")
    if bare_overs:
        bare_overs.sort()
        bare_p99 = bare_overs[min(len(bare_overs) - 1, int(0.99 * len(bare_overs)))]
        load["bare_burner_p99_ms"] = bare_p99
        detail += f"; the idle app beside an unobserved CPU burner: p99 {bare_p99:.1f} ms"
    if errors:
        detail += f"; run errors: {errors}"
    key = "loop_lag_cpu_child_p99_ms" if cpu_child else "loop_lag_p99_ms"
    return Result(key, p99, "ms", "<= 10", detail, {"events_per_s": eps, **{f"cpu_{k}": v for k, v in load.items()}})


# ---------------------------------------------------------------------------- start-up
def _cmd_time(argv: list[str]) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


STARTUP_MARK = "withscope: window shown"  # gui/shell/app.py prints it (WITHSCOPE_STARTUP_MARK=1)


def _shown_time(argv: list[str]) -> tuple[float, float]:
    """Seconds from spawning `argv` to the line `STARTUP_MARK` on its stdout, and to its exit."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WITHSCOPE_STARTUP_MARK="1")
    t0 = time.perf_counter()
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as p:
        assert p.stdout is not None
        shown = None
        for line in p.stdout:
            if shown is None and line.strip() == STARTUP_MARK:
                shown = time.perf_counter() - t0
        code = p.wait()
        total = time.perf_counter() - t0
    if code != 0 or shown is None:
        raise RuntimeError(f"{' '.join(argv)}: exit code {code}, start-up mark {'seen' if shown else 'never seen'}")
    return shown, total


def bench_startup(rounds: int) -> Result:
    exe = Path(sys.executable).with_name("withscope")
    app_cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "withscope.gui.shell.launcher"]
    app_cmd += ["--quit-after", "0", "--no-settings"]
    base_cmd = [sys.executable, "-c", "import PySide6.QtWidgets"]
    _shown_time(app_cmd)  # warm the OS caches and .pyc files
    _cmd_time(base_cmd)
    ratios, shown, whole, bases = [], [], [], []
    for _ in range(rounds):
        b = _cmd_time(base_cmd)
        a, total = _shown_time(app_cmd)
        ratios.append(a / b)
        shown.append(a)
        whole.append(total)
        bases.append(b)
    ms = {k: statistics.median(v) * 1e3 for k, v in (("shown", shown), ("whole", whole), ("base", bases))}
    whole_ratio = statistics.median([w / b for w, b in zip(whole, bases, strict=True)])
    detail = (f"withscope --quit-after 0: window shown at {ms['shown']:.0f} ms (whole process, plots built "
              f"and shut down: {ms['whole']:.0f} ms, {whole_ratio:.1f}x) vs import PySide6.QtWidgets "
              f"{ms['base']:.0f} ms (whole process); {rounds} rounds")
    extra = {"shown_ms": ms["shown"], "whole_process_ms": ms["whole"], "baseline_ms": ms["base"],
             "whole_process_ratio": whole_ratio}
    return Result("startup_ratio", statistics.median(ratios), "x", "<= 3.0", detail, extra)


def run_all(quick: bool) -> list[Result]:
    # The loop-lag run goes first: the app as a user starts it, not in a process whose heap still
    # holds the million synthetic lifetimes of the timeline runs (their garbage slows every GC pass).
    lag = bench_loop_lag(2.0 if quick else 10.0, 1.0 if quick else 3.0, 10_000)
    lag_cpu = bench_loop_lag(2.0 if quick else 10.0, 1.0 if quick else 3.0, 0, cpu_child=True)
    return [
        bench_timeline(10_000 if quick else 100_000, 3 if quick else 15, "timeline_frame_ms_100k", "<= 33"),
        bench_timeline(50_000 if quick else 1_000_000, 3 if quick else 11, "timeline_frame_ms_1m", "<= 50"),
        lag,
        lag_cpu,
        bench_startup(3 if quick else 11),
    ]
