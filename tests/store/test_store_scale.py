"""Recording at scale: nothing is dropped, what was drained is committed on the cadence, and a
reader polling the file while the writer finishes never makes it fail."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plain_cm import PlainCM
from withscope.core import Recorder
from withscope.core.runner import Run, RunOptions
from withscope.core.store import RecordingWriter, open_recording, record_run
from withscope.core.targets import Target


def _blocks(n: int) -> None:
    from withscope.core.track import track

    for _ in range(n):
        with track(PlainCM()):
            pass


def _count(path: Path) -> tuple[int, int]:
    """(lifetimes, the longest hold in ns) read straight from the file."""
    with sqlite3.connect(path) as conn:
        n, longest = conn.execute("SELECT count(*), max(released_ns - acquired_ns) FROM lifetimes").fetchone()
    conn.close()
    return int(n), int(longest or 0)


def test_a_recording_run_drops_no_event_when_the_workload_outpaces_the_writer(tmp_path: Path) -> None:
    # GIVEN a run whose workload makes tracked blocks as fast as it can, in a thread, recorded,
    # with a recorder buffer far smaller than the workload (the 10 M case, scaled down)
    n = 60_000
    path = tmp_path / "scale.db"
    target = Target("blocks", lambda: _blocks(n), is_async=False, takes_context=False)

    async def main() -> None:
        run = Run(target, RunOptions(sample_interval_s=0.5))
        run.recorder.capacity = 2_000
        writer = record_run(run, path)
        run.start()
        snap = await run.wait()
        await writer.afinish_with(snap)
        assert snap.dropped_events == 0

    asyncio.run(main())
    # THEN every lifetime is in the file, nothing was dropped, and no empty block looks held
    back = open_recording(path)
    assert back.dropped_events == 0
    count, longest = _count(path)
    assert count == n
    assert longest < 1_000_000_000


def test_lossless_ends_with_the_recording_and_a_plain_recorder_still_drops(tmp_path: Path) -> None:
    rec = Recorder(capacity=10)
    writer = RecordingWriter(tmp_path / "x.db", "x")
    writer.attach(rec)
    assert rec.lossless
    from withscope.core.track import track

    for _ in range(50):  # nobody drains: the producer relieves the buffer itself
        with track(PlainCM(), recorder=rec):
            pass
    assert rec.dropped == 0
    writer.finish("ok")
    assert not rec.lossless
    assert _count(tmp_path / "x.db")[0] == 50
    for _ in range(50):
        with track(PlainCM(), recorder=rec):
            pass
    assert rec.dropped > 0  # without a recording, a full buffer drops (counted) as before


KILL_SCRIPT = """
import asyncio, os, sys, time
from withscope.core.runner import Run, RunOptions
from withscope.core.store import record_run
from withscope.core.targets import Target
from withscope.core.track import track

class CM:
    def __enter__(self): return self
    def __exit__(self, *a): return None

def main():
    for _ in range({n}):
        with track(CM()):
            pass
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("done")
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(60)  # the test kills the process here

async def record():
    run = Run(Target("burst", main, is_async=False, takes_context=False), RunOptions())
    record_run(run, sys.argv[1])  # the default cadence: a commit at least every 0.25 s
    await run.start().wait()

asyncio.run(record())
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_a_run_killed_after_its_workload_holds_every_lifetime_finished_before(tmp_path: Path) -> None:
    # GIVEN a recorded run of a workload that makes many lifetimes as fast as it can, then says so
    n = 150_000
    script = tmp_path / "burst.py"
    script.write_text(KILL_SCRIPT.format(n=n))
    done = tmp_path / "done"
    path = tmp_path / "burst.db"
    cmd = [sys.executable, str(script), str(path), str(done)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not done.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert done.exists(), proc.stderr.read() if proc.poll() is not None and proc.stderr else "no signal"
        # WHEN it is killed 0.5 s after the last lifetime ended (two commit intervals)
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    # THEN the file holds every one of them
    snap = open_recording(path)
    assert snap.status == "running"
    assert len([lt for lt in snap.lifetimes if lt.released_ns is not None]) == n


READER = """
import sys
from withscope.core.store import RecordingError, open_recording
print("polling", flush=True)
while True:
    try:
        open_recording(sys.argv[1])
    except RecordingError:
        pass
"""


def test_a_reader_polling_while_the_writer_finishes_does_not_make_it_fail(tmp_path: Path) -> None:
    # GIVEN a recording with some content, and another process reading it in a tight loop
    path = tmp_path / "polled.db"
    from withscope.core.track import track

    with Recorder() as rec:
        writer = RecordingWriter(path, "polled", {})
        writer.attach(rec)
        for _ in range(20_000):
            with track(PlainCM(), recorder=rec):
                pass
        rec.drain()
        assert writer.flush()
        reader = subprocess.Popen([sys.executable, "-c", READER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            assert reader.stdout is not None
            assert reader.stdout.readline().strip() == "polling"
            time.sleep(0.3)
            # WHEN the writer finishes while it polls: THEN it succeeds
            writer.finish("ok")
        finally:
            reader.kill()
            reader.wait(10)
            if reader.stdout is not None:
                reader.stdout.close()
    # AND the file is complete and finished
    back = open_recording(path)
    assert back.status == "ok"
    assert len(back.lifetimes) == 20_000


def test_rows_read_off_the_table_are_the_rows_of_its_lifetimes(tmp_path: Path) -> None:
    # GIVEN lifetimes of every shape: clean, failed, suppressed, closed, open, aborted, in a
    # task, with stacks, and a label carrying a DSN password
    import contextlib

    from withscope.core.store.schema import lifetime_row
    from withscope.core.store.writer import table_rows
    from withscope.core.track import track

    class Suppressing:
        def __enter__(self) -> Suppressing:
            return self

        def __exit__(self, *exc: object) -> bool:
            return True

    class FailsToEnter:
        def __enter__(self) -> None:
            raise OSError("no")

        def __exit__(self, *exc: object) -> None:
            return None

        def close(self) -> None:
            return None

    rec = Recorder(stack_depth=2)
    path = tmp_path / "f.txt"
    path.write_text("x")
    with rec:
        with track(PlainCM(), label="postgresql://u:S3cr3t@db/x"):
            pass
        with contextlib.suppress(ValueError), track(PlainCM()):
            raise ValueError("boom")
        with track(Suppressing(), suppresses=(KeyError,)):
            raise KeyError("k")
        track(open(path)).close()  # noqa: SIM115 (closed through the handle: FLAG_CLOSE)
        kept = track(open(path))  # noqa: SIM115 (open while the rows are read)
        with contextlib.suppress(OSError), track(FailsToEnter()):
            pass

        async def in_task() -> None:
            with track(PlainCM()):
                pass

        asyncio.run(in_task())
    # WHEN the writer reads them as rows, straight off the table
    rec.drain()
    rows = table_rows(rec.table, range(-1, len(rec.table.outcome) + 2))
    # THEN they are exactly the rows of the lifetimes (the password redacted)
    assert rows == [lifetime_row(lt) for lt in rec.lifetimes()]
    assert len(rows) == 6  # the withdrawn acquisition is no lifetime
    assert "S3cr3t" not in repr(rows)
    kept.close()
