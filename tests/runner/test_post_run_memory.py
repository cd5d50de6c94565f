"""After a run, the rules, the snapshot and the JSON report cost little more memory than the run
itself held at the end of its workload (the recorder's columns).

GIVEN a run of tens of thousands of lifetimes, WHEN its workload ends and the run finishes (final
rules, snapshot) and its report is written, THEN the peak of traced memory after the workload is
at most 1.5x what was traced when the workload ended. Before: every lifetime became an object
for the final rules, again for the snapshot, then a dict for the report (about 6x at 1 M).
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from pathlib import Path

from plain_cm import PlainCM
from withscope.core.recorder import current_recorder
from withscope.core.report import write_report
from withscope.core.runner import RunOptions, run_target
from withscope.core.snapshot import RunSnapshot
from withscope.core.targets import Target
from withscope.core.track import track

N = 20_000


def test_post_run_peak_is_at_most_one_and_a_half_times_the_memory_at_workload_end(tmp_path: Path) -> None:
    at_end: list[int] = []

    def many() -> None:
        rec = current_recorder()
        for i in range(N):
            with track(PlainCM()):
                pass
            if i % 5000 == 0:
                rec.drain()  # as a steady drain would: the backlog's fold is not what is measured here
        rec.drain()
        at_end.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.reset_peak()

    target = Target("many", many, is_async=False, takes_context=False)
    out = tmp_path / "report.json"
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        snap = asyncio.run(run_target(target, RunOptions(drain_interval_s=0.05)))
        write_report(snap, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert snap.status == "ok"
    assert len(snap.lifetimes) == N
    held = at_end[0] - base
    ratio = (peak - base) / held
    assert ratio <= 1.5, f"post-run peak {(peak - base) >> 10} KiB vs {held >> 10} KiB at workload end ({ratio:.2f}x)"
    report = json.loads(out.read_text(encoding="utf-8"))
    assert len(report["lifetimes"]) == N
    assert report["lifetimes"][-1]["id"] == snap.lifetimes[-1].id


def test_snapshot_repr_is_short_whatever_the_number_of_lifetimes() -> None:
    # asyncio's Runner reprs the main task, and with it its result, when it restores the SIGINT
    # handler: the full repr of a long run's snapshot was gigabytes of text.
    def many() -> None:
        for _ in range(2000):
            with track(PlainCM()):
                pass

    snap = asyncio.run(run_target(Target("many", many, False, False), RunOptions()))
    assert isinstance(snap, RunSnapshot)
    assert len(repr(snap)) < 300
    assert "lifetimes=2000" in repr(snap)
