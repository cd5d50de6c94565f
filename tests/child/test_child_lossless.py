"""A child run recorded with `--record` loses no event: the agent's recorder is lossless, its
frames go to the pipe with back-pressure (a slow parent slows the program, never a growing queue),
and the parent reads, folds and writes everything. Without a recording the agent's recorder
drops (and counts) as an in-process one does: the program then runs at its own pace."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from plain_cm import PlainCM
from withscope.core import Recorder, track
from withscope.core.agent.stream import BatchStreamer
from withscope.core.agent.wire import FrameReader
from withscope.core.recorder import Batch
from withscope.core.store import open_recording
from withscope.core.supervise.feed import ChildRecorder

CLI = "import sys; from withscope.core.cli import main; sys.exit(main(sys.argv[1:]))"

# A burst of empty tracked blocks against a recorder buffer far smaller than the burst (4,096
# events: the 10 M-block case scaled down to a test's length).
BURST = """
import sys
from withscope.core.recorder import current_recorder
from withscope.core.track import track

class CM:
    __slots__ = ()
    def __enter__(self): return self
    def __exit__(self, *exc): return None

rec = current_recorder()
print("lossless" if rec.lossless else "drops", flush=True)
rec.capacity = 1 << 12
for _ in range(int(sys.argv[1])):
    with track(CM()):
        pass
"""


def _withscope(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_a_recorded_child_run_of_300k_blocks_drops_nothing_and_the_file_holds_every_lifetime(tmp_path: Path) -> None:
    # GIVEN a script making 300,000 tracked blocks as fast as it can, its buffer 4,096 events
    (tmp_path / "burst.py").write_text(BURST)
    n = 300_000
    # WHEN it runs in a child under `withscope run --record`
    out = _withscope("run", "--quiet", "--record", "r.db", "burst.py", str(n), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # THEN the agent's recorder was lossless, nothing was dropped, every lifetime is in the file
    assert out.stdout.splitlines()[0] == "lossless"
    back = open_recording(tmp_path / "r.db")
    assert back.dropped_events == 0
    with sqlite3.connect(tmp_path / "r.db") as conn:
        count, released = conn.execute("SELECT count(*), sum(released_ns IS NOT NULL) FROM lifetimes").fetchone()
    conn.close()
    assert (count, released) == (n, n)


def test_without_a_recording_the_child_s_recorder_drops_and_counts(tmp_path: Path) -> None:
    (tmp_path / "burst.py").write_text(BURST)
    out = _withscope("run", "--quiet", "--json", "r.json", "burst.py", "10", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "drops"


def test_a_slow_reader_slows_the_producer_and_the_streamer_queues_no_more_than_a_frame_or_two() -> None:
    # GIVEN a lossless recorder streamed to a pipe whose reader is slow (a busy parent)
    rec = Recorder(name="agent")
    rec.lossless = True
    rec.capacity = 1 << 10
    r, w = os.pipe()
    streamer = BatchStreamer(rec, w, interval_s=0.01)
    most_queued = [0]

    def watch(batch: Batch) -> None:  # runs after the streamer's subscriber, on the same thread
        most_queued[0] = max(most_queued[0], len(streamer._out))

    rec.subscribe(watch)
    parent = ChildRecorder()
    reader = FrameReader()

    def read() -> None:
        while True:
            data = os.read(r, 1 << 14)
            if not data:
                return
            for msg in reader.feed(data):
                parent.feed(msg)
            time.sleep(0.002)  # ~8 MB/s at most: far slower than the producer

    t = threading.Thread(target=read)
    t.start()
    streamer.start()
    n = 40_000
    # WHEN the program makes blocks as fast as it can
    with rec:
        for _ in range(n):
            with track(PlainCM()):
                pass
    streamer.close()
    t.join(60)
    os.close(r)
    # THEN the streamer never held more than the frame being written and one more, and the
    # parent got every lifetime, released, with nothing dropped
    assert most_queued[0] <= 2
    parent.drain()
    table = parent.table
    assert table.count == n
    assert parent.dropped == 0
    assert all(table.released_ns[i] >= table.acquired_ns[i] for i in range(n))
