"""Memory at scale: the post-run phase of a long run, and the app's memory on a long live run.

- `post_run_peak_ratio`: a fresh process runs 1,000,000 tracked blocks (quick: 100,000) through
  `Run` (what the CLI and the app use), then writes the JSON report. Its RSS is read when the
  workload returns and polled every 5 ms until the report is written: peak after / at the end of
  the workload. The detail gives the seconds the post-run phase took.
- `app_memory_soak_mib`: the whole app (`MainWindow`, every dock, offscreen) runs a workload of
  10,000 tracked blocks per second (every 100th held 0.2 s, a stream) for 300 s (quick: 20 s,
  which the detail says); RSS at the end, MiB. The detail gives the RSS after the app started,
  the growth per minute and how long closing the window took (stop the run, its cleanup and
  final rules, the views).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Result

_POST_RUN_CHILD = r"""
import asyncio, json, sys, threading, time, psutil
from withscope.core.report import write_report
from withscope.core.runner import RunOptions, run_target
from withscope.core.targets import Target
from withscope.core.track import track
class CM:
    __slots__ = ()
    def __enter__(self): return self
    def __exit__(self, *e): return None
n, out = int(sys.argv[1]), sys.argv[2]
proc = psutil.Process()
state = {"end": None, "peak": 0, "stop": False}
def work():
    for _ in range(n):
        with track(CM()):
            pass
    state["end"] = proc.memory_info().rss
    state["t_end"] = time.perf_counter()
def poll():
    while not state["stop"]:
        if state["end"] is not None:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
        time.sleep(0.005)
threading.Thread(target=poll, daemon=True).start()
snap = asyncio.run(run_target(Target("bench", work, False, False), RunOptions()))
write_report(snap, out)
state["stop"] = True
t1 = time.perf_counter()
peak = max(state["peak"], proc.memory_info().rss)
print(json.dumps({"end": state["end"], "peak": peak, "post_s": t1 - state["t_end"], "lifetimes": len(snap.lifetimes),
                  "dropped": snap.dropped_events}))
"""


def bench_post_run(n: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="withscope-bench-") as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _POST_RUN_CHILD, str(n), str(Path(tmp) / "report.json")],
            capture_output=True, text=True, check=True, env=os.environ,
        )  # fmt: skip
    d = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = d["peak"] / d["end"]
    detail = (f"{n:,} blocks ({d['lifetimes']:,} lifetimes kept, {d['dropped']:,} events dropped): RSS "
              f"{d['end'] / 2**20:.0f} MiB at workload end, peak {d['peak'] / 2**20:.0f} MiB after, "
              f"post-run {d['post_s']:.1f} s (rules, snapshot, JSON report)")
    return Result("post_run_peak_ratio", ratio, "x", "<= 1.5", detail, {"post_run_s": d["post_s"]})


_SOAK_WORKLOAD = '''
import asyncio, time
from withscope.core import track_stream
from withscope.core.track import track

RATE = {rate}


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
    async def stream():
        async for _ in track_stream(chunks(), "feed"):
            pass

    feeder = asyncio.ensure_future(stream())
    held = []
    t0 = time.perf_counter()
    done = 0
    try:
        while True:
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
'''


def bench_app_soak(seconds: float, rate: int, quick: bool) -> Result:
    import psutil
    import qasync
    from PySide6.QtWidgets import QApplication
    from withscope.gui.shell.app import SCREENSHOT_SIZE, load_patterns, quiet_qt_messages
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.style import theme as th

    proc = psutil.Process()
    quiet_qt_messages()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    th.apply(th.LIGHT)
    tmp = Path(tempfile.mkdtemp(prefix="withscope-bench-"))
    target = tmp / "soak_workload.py"
    target.write_text(_SOAK_WORKLOAD.format(rate=rate))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    win = MainWindow(patterns=load_patterns(), settings=None)
    win.resize(*SCREENSHOT_SIZE)
    win.show()
    stats: list[object] = []
    win.bridge.statsChanged.connect(stats.append)

    async def scenario() -> tuple[list[tuple[float, int]], float]:
        win.start()
        await asyncio.sleep(1.0)
        rss = [(0.0, proc.memory_info().rss)]
        win.run_workloads([f"{target}:steady"])
        t0 = time.perf_counter()
        while (t := time.perf_counter() - t0) < seconds:
            await asyncio.sleep(min(5.0, seconds - t))
            rss.append((time.perf_counter() - t0, proc.memory_info().rss))
        closed = asyncio.Event()
        win.closed.connect(closed.set)
        c0 = time.perf_counter()
        win.close()
        await closed.wait()
        return rss, time.perf_counter() - c0

    try:
        rss, close_s = loop.run_until_complete(scenario())
    finally:
        win.deleteLater()
        app.processEvents()
        loop.close()
        asyncio.set_event_loop(None)
    start, end = rss[0][1] / 2**20, rss[-1][1] / 2**20
    minutes = rss[-1][0] / 60
    lifetimes = getattr(stats[-1], "lifetimes", 0) if stats else 0
    detail = (f"{rate:,} blocks/s for {seconds:g} s{' (quick: a short soak)' if quick else ''}: RSS {start:.0f} -> "
              f"{end:.0f} MiB ({(end - start) / minutes:.0f} MiB/min), {lifetimes:,} lifetimes shown; "
              f"closing took {close_s:.2f} s")
    return Result("app_memory_soak_mib", end, "MiB", "<= 400", detail, {"close_s": close_s, "start_mib": start})


def run_all(quick: bool) -> list[Result]:
    return [
        bench_post_run(100_000 if quick else 1_000_000),
        bench_app_soak(20.0 if quick else 300.0, 10_000, quick),
    ]


if __name__ == "__main__":  # python benchmarks/bench_memory.py [--quick]
    from common import print_table

    q = "--quick" in sys.argv
    print_table(run_all(q), q)
