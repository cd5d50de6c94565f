"""Recording a real `Run` live with `record_run`, then reopening it as the same snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from withscope.core import Outcome
from withscope.core.runner import Run, RunOptions
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import open_recording, record_run

TARGET = """
import asyncio, io
from withscope.core import track

_kept = []

async def leaky():
    with track(io.BytesIO(), label="closed"):
        await asyncio.sleep(0.05)
    _kept.append(track(io.BytesIO(), label="leaked"))
    await asyncio.sleep(0.3)
"""


def test_a_recorded_run_reopens_as_its_final_snapshot(tmp_path: Path) -> None:
    script = tmp_path / "recorded_target.py"
    script.write_text(TARGET)
    path = tmp_path / "run.db"

    async def main() -> tuple[RunSnapshot, RunSnapshot]:
        run = Run(f"{script}:leaky", RunOptions(drain_interval_s=0.02, sample_interval_s=0.05))
        writer = record_run(run, path, flush_interval_s=0.05)
        run.start()
        # WHILE it runs, the file already holds the run (status running)
        assert await asyncio.to_thread(writer.flush)
        mid = await asyncio.to_thread(open_recording, path)
        snap = await run.wait()
        await writer.afinish_with(snap)
        return snap, mid

    snap, mid = asyncio.run(main())
    assert mid.status == "running"  # read while the run went on
    assert mid.end_ns is None
    back = open_recording(path)
    assert back.status == snap.status == "ok"
    assert (back.t0_ns, back.end_ns, back.target) == (snap.t0_ns, snap.end_ns, snap.target)
    assert back.lifetimes == snap.lifetimes
    assert {lt.label: lt.outcome for lt in back.lifetimes} == {"closed": Outcome.RELEASED, "leaked": Outcome.OPEN}
    assert back.alerts == snap.alerts
    assert "unreleased" in {a.rule for a in back.alerts}
    assert set(snap.samples) <= set(back.samples)
    assert back.samples
    assert back.marks == snap.marks
    assert back.meta["repeat"] == "1"
