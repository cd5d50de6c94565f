"""Child-process runs: start-up of `withscope run` and the child -> parent event stream.

- `cli_start_ratio`: the whole `withscope run empty.py` process (parse, start the child under the
  agent, import the runner, rules and sampler while it starts, stream, apply the rules, print the
  summary, exit) vs `python empty.py`, interleaved, median of the per-round ratios. The detail
  also gives `withscope.core.cli` called directly (what the console script's launcher adds).
- `child_ingest_ratio`: events/s from 4 threads of tracked blocks in a child process to the
  parent's folded model (from the child's `repeat 1/1 start` mark to the moment the parent has
  folded the last event), vs the same producers in this process with a consumer thread draining
  the recorder as the agent does (every 50 ms), timed until it has folded the last event. Zero loss
  is checked both ways (every block folded and released, none dropped).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from bench_core import CM
from common import Result
from withscope.core import Recorder, track
from withscope.core.recorder import Batch
from withscope.core.runner import RunOptions
from withscope.core.supervise import ChildRun, child_target

PRODUCERS = textwrap.dedent(
    """
    import sys, threading
    from withscope.core import track

    class CM:
        __slots__ = ()
        def __enter__(self): return self
        def __exit__(self, *exc): return None

    def producer(n):
        for _ in range(n):
            with track(CM()):
                pass

    n = int(sys.argv[1])
    threads = [threading.Thread(target=producer, args=(n,)) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    """
)


# `withscope` without the console script's launcher (gui/shell/launcher.py, which imports no Qt for `run`)
HEADLESS_CLI = "import sys; from withscope.core.cli import main; sys.exit(main(sys.argv[1:]))"


def _withscope_command() -> list[str]:
    script = Path(sys.executable).with_name("withscope")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from withscope.gui.shell.launcher import main; sys.exit(main())"]


def _wall(cmd: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def bench_cli_start(rounds: int) -> Result:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "empty.py").write_text("")
        withscope = [*_withscope_command(), "run", "empty.py"]
        headless = [sys.executable, "-c", HEADLESS_CLI, "run", "empty.py"]
        python = [sys.executable, "empty.py"]
        for cmd in (withscope, headless, python):
            _wall(cmd, d)
        ratios, ws, hl, py = [], [], [], []
        for _ in range(rounds):
            b = _wall(python, d)
            c = _wall(withscope, d)
            h = _wall(headless, d)
            ratios.append(c / b)
            ws.append(c)
            hl.append(h)
            py.append(b)
    detail = (f"withscope run empty.py {statistics.median(ws) * 1e3:.0f} ms (through withscope.core.cli alone "
              f"{statistics.median(hl) * 1e3:.0f} ms) vs python empty.py {statistics.median(py) * 1e3:.0f} ms, "
              f"{rounds} rounds")
    return Result("cli_start_ratio", statistics.median(ratios), "x", "<= 3", detail)


def _local_round(blocks_per_thread: int) -> float:
    """Events/s of 4 producer threads into a recorder of this process, until all are folded."""
    rec = Recorder()
    expected = 4 * blocks_per_thread * 2
    folded = 0
    producing = threading.Event()

    def consumer() -> None:
        nonlocal folded
        while folded < expected:
            time.sleep(0.05)
            folded += rec.drain().events

    def producer() -> None:
        producing.wait()
        for _ in range(blocks_per_thread):
            with track(CM(), recorder=rec):
                pass

    threads = [threading.Thread(target=producer) for _ in range(4)]
    c = threading.Thread(target=consumer)
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    producing.set()
    c.start()
    c.join()
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join()
    if folded != expected or rec.dropped:
        raise AssertionError(f"ingest lost events: folded {folded} of {expected}, dropped {rec.dropped}")
    return expected / elapsed


def _child_round(script: Path, blocks_per_thread: int) -> float:
    expected = 4 * blocks_per_thread
    # The figure is track()'s ingest, as the in-process producers it is compared with: no automatic
    # instrumentation (it would add the producer threads themselves as lifetimes).
    target = dataclasses.replace(child_target(str(script), [str(blocks_per_thread)]), auto=False)
    run = ChildRun(target, RunOptions(timeout_s=600), python=sys.executable)
    done_ns: list[int] = []
    released = 0

    def on_batch(batch: Batch) -> None:
        nonlocal released
        released += len(batch.released)
        if released >= expected and not done_ns:
            done_ns.append(time.perf_counter_ns())

    run.recorder.subscribe(on_batch)

    async def go() -> None:
        run.start()
        await run.wait()

    asyncio.run(go())
    snap = run.snapshot()
    start = next(m.t_ns for m in snap.marks if m.text == "repeat 1/1 start")
    lost = expected - sum(1 for lt in snap.lifetimes if lt.released_ns is not None)
    if snap.status != "ok" or lost or snap.dropped_events or not done_ns:
        raise AssertionError(f"child ingest lost events: status {snap.status}, {lost} not folded, "
                             f"{snap.dropped_events} dropped")
    return 2 * expected / ((done_ns[0] - start) / 1e9)


def bench_child_ingest(blocks_per_thread: int, rounds: int) -> Result:
    with tempfile.TemporaryDirectory() as d:
        script = Path(d, "producers.py")
        script.write_text(PRODUCERS)
        ratios, child, local = [], [], []
        for _ in range(rounds):
            b = _local_round(blocks_per_thread)
            c = _child_round(script, blocks_per_thread)
            ratios.append(c / b)
            child.append(c)
            local.append(b)
    detail = (f"child {statistics.median(child):,.0f}/s vs in-process {statistics.median(local):,.0f}/s; "
              f"4 threads x {blocks_per_thread:,} blocks, 0 lost")
    return Result("child_ingest_ratio", statistics.median(ratios), "x", ">= 0.5", detail)


def run_all(quick: bool) -> list[Result]:
    return [
        bench_cli_start(3 if quick else 10),
        bench_child_ingest(5_000 if quick else 100_000, 1 if quick else 5),
    ]


if __name__ == "__main__":
    from common import print_table

    print_table(run_all("--quick" in sys.argv), "--quick" in sys.argv)
