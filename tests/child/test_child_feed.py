"""ChildRecorder: the parent's recorder, folded from the batches the agent's streamer writes.

GIVEN a recorder in this process streamed by the agent's `BatchStreamer` through a pipe, WHEN the
frames are fed to a `ChildRecorder` and drained, THEN it shows the same lifetimes, streams and
marks as the source, and its batches name what each drain acquired and released."""

from __future__ import annotations

import os
import threading
import time
from contextlib import nullcontext
from pathlib import Path

from withscope.core import Recorder, track, track_stream
from withscope.core.agent.stream import BatchStreamer
from withscope.core.agent.wire import FrameReader
from withscope.core.recorder import Batch
from withscope.core.store import RecordingWriter, open_recording
from withscope.core.supervise import ChildRecorder


class Link:
    """A source recorder streamed into a ChildRecorder through a real pipe."""

    def __init__(self) -> None:
        self.source = Recorder(name="source")
        self.read_fd, write_fd = os.pipe()
        self.streamer = BatchStreamer(self.source, write_fd)
        self.reader = FrameReader()
        self.child = ChildRecorder()
        self.batches: list[Batch] = []
        self.child.subscribe(self.batches.append)
        self._thread = threading.Thread(target=self._read, daemon=True)  # a full pipe would block the writer
        self._thread.start()

    def _read(self) -> None:
        while data := os.read(self.read_fd, 1 << 20):
            for msg in self.reader.feed(data):
                self.child.feed(msg)

    def step(self) -> Batch:
        """Flush the source, wait until every frame written reached the child recorder, drain it."""
        self.streamer.flush()
        deadline = time.monotonic() + 30
        while self.reader.frames < self.streamer.frames and time.monotonic() < deadline:
            time.sleep(0.001)
        return self.child.drain()

    def close(self) -> None:
        self.streamer.close()  # closes the write end: the reader thread sees the end
        self._thread.join(30)
        os.close(self.read_fd)


def test_lifetimes_fold_as_in_the_source_and_batches_name_the_changes() -> None:
    link = Link()
    rec = link.source
    with rec:
        rec.mark("run start")
        kept = track(nullcontext("a"), kind="thing", label="kept")
        kept.__enter__()
        with track(nullcontext("b"), kind="thing", label="short"):
            pass
        first = link.step()
        kept.__exit__(None, None, None)
        try:
            with track(nullcontext("c"), kind="thing", label="failed"):
                raise ValueError("boom")
        except ValueError:
            pass
        second = link.step()
    link.close()
    assert first.acquired == (0, 1)
    assert first.released == (1,)
    assert second.acquired == (2,)
    assert sorted(second.released) == [0, 2]
    assert link.child.lifetimes() == rec.lifetimes()
    assert [m.text for m in link.child.marks()] == ["run start"]
    assert link.child.dropped == rec.dropped == 0
    # a drain with nothing new folds nothing
    assert link.child.drain().acquired == ()


def test_many_lifetimes_across_batches_and_sparse_releases() -> None:
    link = Link()
    rec = link.source
    held = []
    with rec:
        for i in range(3000):
            cm = track(nullcontext(i), kind="thing", label=f"n{i % 7}")
            cm.__enter__()
            held.append(cm)
            if i % 500 == 499:
                link.step()
        for cm in held[::97]:  # a few old ones, far apart: the ids are sent as a list
            cm.__exit__(None, None, None)
        link.step()
        for cm in held:
            cm.__exit__(None, None, None)
        link.step()
    link.close()
    assert link.child.lifetimes() == rec.lifetimes()
    assert sum(len(b.acquired) for b in link.batches) == 3000
    assert sorted(lid for b in link.batches for lid in b.released) == list(range(3000))


def test_streams_accumulate_their_points_across_batches() -> None:
    link = Link()
    rec = link.source
    with rec:
        it = iter(track_stream((b"x" * 10 for _ in range(3)), "produce"))
        next(it)
        link.step()
        for _ in it:
            pass
        link.step()
    link.close()
    (st,) = link.child.streams()
    (expected,) = rec.streams()
    assert st == expected
    assert (st.label, st.chunks, st.bytes, st.ended) == ("produce", 3, 30, True)


def test_a_recording_writer_attached_to_it_writes_what_the_child_sent(tmp_path: Path) -> None:
    link = Link()
    writer = RecordingWriter(tmp_path / "r.db", target="child")
    writer.attach(link.child)
    with link.source:
        held = track(nullcontext(), kind="thing", label="open")
        held.__enter__()
        with track(nullcontext(), kind="thing", label="closed"):
            pass
        link.step()
    link.close()
    writer.finish("ok")
    snap = open_recording(tmp_path / "r.db")
    assert [(lt.label, lt.outcome.value) for lt in snap.lifetimes] == [("open", "open"), ("closed", "released")]
    held.__exit__(None, None, None)
