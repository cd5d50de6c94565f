"""Recording files: save/open round trips and incremental writing from a live recorder."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import sqlite3
from pathlib import Path

import pytest
from withscope.core import Recorder, track, track_stream
from withscope.core.events import Alert, Mark, Outcome, Sample, Severity
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import (
    SCHEMA_VERSION,
    RecordingError,
    RecordingWriter,
    is_recording,
    open_recording,
    read_meta,
    save_snapshot,
)


def _without_store_meta(s: RunSnapshot) -> RunSnapshot:
    meta = {k: v for k, v in s.meta.items() if k not in ("schema_version", "withscope_version", "recording")}
    return dataclasses.replace(s, meta=meta)


def test_save_then_open_gives_back_the_same_snapshot(tmp_path: Path, full_snapshot: RunSnapshot) -> None:
    # GIVEN a snapshot with every kind of row WHEN it is saved and reopened
    path = tmp_path / "run.withscope"
    save_snapshot(full_snapshot, path)
    back = open_recording(path)
    # THEN every field survives, and the store adds its own metadata
    assert _without_store_meta(back) == full_snapshot
    assert back.meta["schema_version"] == str(SCHEMA_VERSION)
    assert back.meta["recording"] == str(path)
    assert is_recording(path)
    assert read_meta(path)["status"] == "error"


def test_save_replaces_an_old_recording_but_not_other_files(tmp_path: Path, full_snapshot: RunSnapshot) -> None:
    path = tmp_path / "run.db"
    save_snapshot(dataclasses.replace(full_snapshot, target="old"), path)
    save_snapshot(full_snapshot, path)
    assert open_recording(path).target == "class-cm/faulty"
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    with pytest.raises(RecordingError, match="not a withscope recording; refusing to overwrite"):
        save_snapshot(full_snapshot, precious)
    assert precious.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "run.db"]  # no temp file left


def test_empty_run_round_trips(tmp_path: Path) -> None:
    empty = RunSnapshot("nothing", "ok", None, 5, 0.0, 5)
    save_snapshot(empty, tmp_path / "e.db")
    assert _without_store_meta(open_recording(tmp_path / "e.db")) == empty


def test_writer_writes_incrementally_and_finish_makes_one_file(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    with Recorder() as rec:
        writer = RecordingWriter(path, "mine.py:main", {"repeat": "1"})
        writer.attach(rec)
        # GIVEN one resource acquired and flushed
        held = track(io.BytesIO(b"x"), label="held")
        rec.drain()
        assert writer.flush()
        # THEN a reader sees it open while the run goes on
        mid = open_recording(path)
        assert mid.status == "running"
        assert mid.end_ns is None
        assert [(lt.label, lt.outcome) for lt in mid.lifetimes] == [("held", Outcome.OPEN)]
        assert mid.t0_ns == rec.t0_ns
        # WHEN it is released and the run finishes
        held.close()
        writer.add_alerts([Alert("late-release", Severity.INFO, "held long", "close sooner")])
        writer.add_samples([Sample(rec.t0_ns + 1, 1, 2, 3, 4, 5.0)])
        rec.mark("done")
        writer.finish("ok", None, rec.t0_ns + 10)
    # THEN the release, alert, sample, mark and status are written, in one self-contained file
    final = open_recording(path)
    assert final.status == "ok"
    assert final.end_ns == rec.t0_ns + 10
    (lt,) = final.lifetimes
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close
    assert [a.rule for a in final.alerts] == ["late-release"]
    assert final.samples == (Sample(rec.t0_ns + 1, 1, 2, 3, 4, 5.0),)
    assert [m.text for m in final.marks] == ["done"]
    assert final.meta["repeat"] == "1"
    assert not Path(f"{path}-wal").exists()
    assert writer.commits >= 2


def test_writer_catches_up_with_what_the_recorder_held_before_attach(tmp_path: Path) -> None:
    with Recorder() as rec:
        with track(io.BytesIO(), label="early"):
            pass
        rec.drain()
        writer = RecordingWriter(tmp_path / "late.db", "t")
        writer.attach(rec)
        writer.finish()
    assert [lt.label for lt in open_recording(tmp_path / "late.db").lifetimes] == ["early"]


def test_marks_pending_at_attach_are_written_once(tmp_path: Path) -> None:
    with Recorder() as rec:
        rec.mark("before attach")  # still in the buffer: attach's catch-up drains it
        writer = RecordingWriter(tmp_path / "m.db", "t")
        writer.attach(rec)
        rec.mark("after attach")
        writer.add_marks(rec.marks())  # sent again by someone else: ignored
        writer.finish()
    assert [m.text for m in open_recording(tmp_path / "m.db").marks] == ["before attach", "after attach"]


def test_alerts_and_samples_are_written_once_when_resent(tmp_path: Path) -> None:
    alerts = [Alert("unreleased", Severity.CRITICAL, "m", "h", 1), Alert("gc-release", Severity.WARNING, "m", "h")]
    samples = [Sample(10, 1, 1, 1, 1, 0.0), Sample(20, 2, 2, 2, 2, 0.0)]
    with RecordingWriter(tmp_path / "d.db", "t") as writer:
        writer.add_alerts(alerts[:1])
        writer.add_alerts(alerts)  # the rules' whole list, sent again
        writer.add_samples(samples[:1])
        writer.add_samples([*samples, Sample(30, 3, 3, 3, 3, 0.0)])  # the sampler's whole history
    snap = open_recording(tmp_path / "d.db")
    assert list(snap.alerts) == alerts
    assert [s.t_ns for s in snap.samples] == [10, 20, 30]


def test_stream_series_is_written_without_duplicates(tmp_path: Path) -> None:
    with Recorder() as rec:
        writer = RecordingWriter(tmp_path / "s.db", "t")
        writer.attach(rec)
        stream = track_stream(iter([b"a" * 10] * 50), label="chunks", interval_s=0)
        for i, _ in enumerate(stream):
            if i % 10 == 0:
                rec.drain()  # series read in several batches
        writer.finish()
        live = rec.streams()
    (st,) = open_recording(tmp_path / "s.db").streams
    assert (st.label, st.chunks, st.bytes, st.ended) == ("chunks", 50, 500, True)
    # the store keys points by time: identical to the recorder's series once same-time repeats collapse
    assert st.series == tuple(dict((p[0], p) for p in live[0].series).values())
    assert st.first_chunk_ns == live[0].first_chunk_ns


def test_withdrawn_acquisition_written_earlier_is_removed_at_finish(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with Recorder() as rec:
        writer = RecordingWriter(tmp_path / "w.db", "t")
        writer.attach(rec)
        handle = track(buf, label="withdrawn")
        rec.drain()
        assert writer.flush()
        assert len(open_recording(tmp_path / "w.db").lifetimes) == 1
        buf.close()
        with pytest.raises(ValueError, match="closed"), handle:  # __enter__ fails: nothing was acquired
            pass
        writer.finish()
    assert open_recording(tmp_path / "w.db").lifetimes == ()


@pytest.mark.parametrize(("exc", "status"), [(ValueError("bad"), "error"), (KeyboardInterrupt(), "cancelled")])
def test_writer_used_as_context_manager_records_how_the_run_ended(
    tmp_path: Path, exc: BaseException, status: str
) -> None:
    with pytest.raises(type(exc)), RecordingWriter(tmp_path / "x.db", "t"):
        raise exc
    snap = open_recording(tmp_path / "x.db")
    assert snap.status == status
    assert snap.error is not None
    assert type(exc).__name__ in snap.error


def test_finish_is_idempotent_and_close_leaves_status_running(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path / "a.db", "t")
    w.finish("ok")
    w.finish("error")  # ignored
    assert open_recording(tmp_path / "a.db").status == "ok"
    c = RecordingWriter(tmp_path / "b.db", "t")
    c.close()
    c.close()
    assert open_recording(tmp_path / "b.db").status == "running"
    assert not c.flush()


def test_write_failure_never_reaches_the_run_and_finish_reports_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = RecordingWriter(tmp_path / "f.db", "t")
    bad = Alert("r", Severity.INFO, None, "h")  # type: ignore[arg-type]  # NOT NULL message
    with caplog.at_level(logging.ERROR, logger="withscope"):
        w.add_alerts([bad])  # does not raise here
        w.add_marks([Mark(1, "after the failure")])
        assert w.flush()
        with pytest.raises(RecordingError, match="writing the recording failed: IntegrityError"):
            w.finish()
    assert "f.db" in caplog.text


def test_writer_refuses_a_foreign_file_and_replaces_a_stale_recording(tmp_path: Path) -> None:
    foreign = tmp_path / "data.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(RecordingError, match="refusing to overwrite"):
        RecordingWriter(foreign, "t")
    stale = tmp_path / "old.db"
    RecordingWriter(stale, "old").close()
    Path(f"{stale}-wal").write_bytes(b"junk from a crashed run")
    RecordingWriter(stale, "new").finish()
    assert open_recording(stale).target == "new"
    with pytest.raises(RecordingError, match="is a directory"):
        RecordingWriter(tmp_path, "t")
    with pytest.raises(RecordingError, match="cannot create"):
        RecordingWriter(tmp_path / "missing-dir" / "x.db", "t")


def test_attach_twice_is_an_error(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path / "a.db", "t") as w, Recorder() as rec:
        w.attach(rec)
        with pytest.raises(RuntimeError, match="already attached"):
            w.attach(rec)


def test_afinish_keeps_the_loop_free_and_finishes(tmp_path: Path) -> None:
    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        with Recorder() as rec:
            writer = RecordingWriter(tmp_path / "a.db", "async")
            writer.attach(rec)
            with track(io.BytesIO(), label="in the loop"):
                pass
            task = asyncio.create_task(ticker())
            await writer.afinish("cancelled", "CancelledError")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return ticks

    assert asyncio.run(main()) > 0  # the loop kept running while the writer finished
    snap = open_recording(tmp_path / "a.db")
    assert (snap.status, snap.error) == ("cancelled", "CancelledError")
    assert [lt.label for lt in snap.lifetimes] == ["in the loop"]
