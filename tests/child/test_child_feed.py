"""ChildRecorder: the parent's recorder folded from wire batches. GIVEN hand-built batches (as the
agent sends them), WHEN drained, THEN readers see the lifetimes, streams and marks an in-process
recorder would show, and the batches name what changed."""

from __future__ import annotations

from pathlib import Path

from withscope.core.events import OUT_GC, OUT_OPEN, OUT_RELEASED, Outcome
from withscope.core.recorder import Batch
from withscope.core.store import RecordingWriter, open_recording
from withscope.core.supervise import ChildRecorder


def lifetime(
    lid: int, kind: str = "file", released_ns: int = -1, code: int = OUT_OPEN, label: str | None = None
) -> tuple[object, ...]:
    site = f"app.py:{lid + 1}"
    name = label or f"thing {lid}"
    return (lid, kind, name, site, "MainThread", None, 100 + lid, released_ns, code, 0, None, None, ())


def batch(lifetimes: list[tuple[object, ...]], streams: list[object] | None = None,
          marks: list[tuple[int, str]] | None = None, dropped: int = 0) -> tuple[object, ...]:
    return ("batch", len(lifetimes), dropped, lifetimes, streams or [], marks or [], [])


def test_acquired_then_released_lifetimes_fold_once_each() -> None:
    rec = ChildRecorder()
    seen: list[Batch] = []
    rec.subscribe(seen.append)
    rec.feed(batch([lifetime(0), lifetime(1)], marks=[(50, "run start")]))
    first = rec.drain()
    rec.feed(batch([lifetime(0, released_ns=500, code=OUT_RELEASED), lifetime(1, released_ns=600, code=OUT_GC)],
                   dropped=3))
    second = rec.drain()
    assert first.acquired == (0, 1)
    assert first.released == ()
    assert second.acquired == ()
    assert second.released == (0, 1)
    assert [(lt.id, lt.outcome, lt.released_ns, lt.site) for lt in rec.lifetimes()] == [
        (0, Outcome.RELEASED, 500, "app.py:1"),
        (1, Outcome.GC, 600, "app.py:2"),
    ]
    assert [m.text for m in rec.marks()] == ["run start"]
    assert rec.dropped == 3
    assert second.dropped_total == 3
    assert seen[:2] == [first, second]
    # a second release of the same lifetime is ignored (at most one release per acquire)
    rec.feed(batch([lifetime(0, released_ns=900, code=OUT_GC)]))
    assert rec.drain().released == ()
    assert rec.lifetime(0).released_ns == 500  # type: ignore[union-attr]


def test_streams_accumulate_their_points_across_batches() -> None:
    rec = ChildRecorder()
    rec.feed(batch([lifetime(0, kind="stream", label="produce")], streams=[(0, "produce", 100, 110, 120, False, 2, 20,
                                                            [(110, 1, 10), (120, 2, 20)])]))
    rec.feed(batch([lifetime(0, kind="stream", released_ns=200, code=OUT_RELEASED, label="produce")],
                   streams=[(0, "produce", 100, 110, 190, True, 3, 30, [(190, 3, 30)])]))
    (st,) = rec.streams()
    assert (st.label, st.chunks, st.bytes, st.ended) == ("produce", 3, 30, True)
    assert st.series == ((110, 1, 10), (120, 2, 20), (190, 3, 30))


def test_a_recording_writer_attached_to_it_writes_what_the_child_sent(tmp_path: Path) -> None:
    rec = ChildRecorder()
    writer = RecordingWriter(tmp_path / "r.db", target="child")
    writer.attach(rec)
    rec.feed(batch([lifetime(0), lifetime(1, released_ns=300, code=OUT_RELEASED)]))
    rec.drain()
    writer.finish("ok")
    snap = open_recording(tmp_path / "r.db")
    assert [(lt.id, lt.outcome) for lt in snap.lifetimes] == [(0, Outcome.OPEN), (1, Outcome.RELEASED)]
