"""A recording killed with SIGKILL mid-run opens and shows everything up to the last commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from withscope.core import Outcome
from withscope.core.store import open_recording

RECORDING_LOOP = """
import io, sys, time
from withscope.core import Recorder, track
from withscope.core.store import RecordingWriter

with Recorder() as rec:
    writer = RecordingWriter(sys.argv[1], "loop.py:main", {"repeat": "forever"}, flush_interval_s=0.05)
    writer.attach(rec)
    held = []
    i = 0
    while True:
        with track(io.BytesIO(), label=f"released {i}"):
            pass
        if i % 3 == 0:
            held.append(track(io.BytesIO(), label=f"held {i}"))
        i += 1
        rec.drain()
        if i % 20 == 0:
            writer.flush()
            print(i, flush=True)  # every lifetime of steps < i is committed
        time.sleep(0.0005)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkilled_recording_opens_with_everything_committed(tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text(RECORDING_LOOP)
    path = tmp_path / "killed.db"
    # GIVEN a process recording a long-running loop of tracked resources
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        committed = 0
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while committed < 100 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        assert committed >= 100, f"the recording loop did not get going: {proc.stderr.read() if proc.stderr else ''}"
        # WHEN it is killed without any chance to clean up
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL
    assert Path(f"{path}-wal").exists()  # the committed tail lives in the WAL: opening must replay it

    # THEN the file opens, the run reads as unfinished, and every committed lifetime is there
    snap = open_recording(path)
    assert snap.status == "running"
    assert snap.end_ns is None
    assert snap.target == "loop.py:main"
    assert snap.meta["repeat"] == "forever"
    by_label = {lt.label: lt for lt in snap.lifetimes}
    for i in range(committed):
        assert by_label[f"released {i}"].outcome is Outcome.RELEASED
        if i % 3 == 0:
            assert by_label[f"held {i}"].outcome is Outcome.OPEN
    # ... and opening it once folded the WAL back in: the recording is one file again
    assert not Path(f"{path}-wal").exists()
    assert open_recording(path).lifetimes == snap.lifetimes


LONG_TARGET = """
import asyncio, io
from withscope.core import track

HELD = []

async def main():
    for i in range(100_000):
        with track(io.BytesIO(), label=f"released {i}"):
            await asyncio.sleep(0.002)
        if i % 10 == 0:
            HELD.append(track(io.BytesIO(), label=f"held {i}"))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_cli_run_record_killed_mid_run_opens_with_what_was_flushed(tmp_path: Path) -> None:
    # GIVEN `withscope run target.py:main --record FILE`, the way a user records (automatic flushes)
    target = tmp_path / "target.py"
    target.write_text(LONG_TARGET)
    path = tmp_path / "run.db"
    exe = Path(sys.executable).with_name("withscope")  # the installed console command
    cmd = [str(exe), "run", f"{target}:main", "--record", str(path), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # WHEN it has been running for a while (the file shows committed lifetimes) and is killed
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if path.exists():
                try:
                    seen = len(open_recording(path).lifetimes)
                except Exception:  # not yet created or mid-commit: try again
                    seen = 0
        why = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        assert seen >= 20, f"the run did not record: {why}"
        time.sleep(0.6)  # at least two more automatic flushes (every 0.25 s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    # THEN the file opens, says the run was still going, and holds at least what we saw, held ones still open
    snap = open_recording(path)
    assert snap.status == "running"
    assert snap.end_ns is None
    assert len(snap.lifetimes) >= seen
    held = [lt for lt in snap.lifetimes if lt.label.startswith("held")]
    assert held
    assert all(lt.outcome is Outcome.OPEN for lt in held)
    released = [lt for lt in snap.lifetimes if lt.label.startswith("released") and lt.released_ns is not None]
    assert released
    assert all(lt.outcome is Outcome.RELEASED for lt in released)
