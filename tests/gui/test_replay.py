"""Replay: a recording shown in the window's docks with a time slider, equal at every moment to
`snapshot_at`; bad files are messages, never crashes. Asyncio is driven from the synchronous
tests with `loop.run_until_complete` (a qtbot wait inside a
qasync coroutine would spin a nested loop)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from qt_helpers import close_window, present, until
from withscope.core.events import Alert, Lifetime, Mark, Outcome, Sample, Severity, StreamStats
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import open_recording, snapshot_at
from withscope.gui.model.replay_feed import ReplayFeed

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

T0 = 5_000_000_000
MS = 1_000_000


def lifetime(lid: int, start_ms: int, end_ms: int | None, **kw: Any) -> Lifetime:
    base: dict[str, Any] = dict(
        id=lid, kind="db.connection", label=f"conn {lid}", site=f"app.py:{10 + lid}", stack=(), thread="MainThread",
        task=None, acquired_ns=T0 + start_ms * MS, released_ns=None if end_ms is None else T0 + end_ms * MS,
        outcome=Outcome.OPEN if end_ms is None else Outcome.RELEASED, error=None, error_type=None,
        suppressed=False, suppression_declared=False, released_by_close=False,
    )  # fmt: skip
    base.update(kw)
    return Lifetime(**base)


@pytest.fixture
def snapshot() -> RunSnapshot:
    """Released, open, errored, gc'd and stream lifetimes (with sparse ids), alerts with and
    without a time, samples, a stream series and marks."""
    return RunSnapshot(
        target="hand/built", status="ok", error=None, t0_ns=T0, wall_t0=1_700_000_000.0, end_ns=T0 + 100 * MS,
        lifetimes=(
            lifetime(0, 1, 20),
            lifetime(2, 5, None, stack=("a.py:1 in f",), task="Task-7", thread="worker"),
            lifetime(3, 10, 60, kind="file", outcome=Outcome.RELEASED_WITH_ERROR, error="ValueError: boom",
                     error_type="builtins.ValueError", suppressed=True, suppression_declared=True,
                     released_by_close=True),
            lifetime(5, 15, 90, kind="stream", label="chunks", site=None),
            lifetime(7, 30, 70, outcome=Outcome.GC),
            lifetime(8, 40, 95, outcome=Outcome.EXIT_RAISED, error="OSError: x", error_type="builtins.OSError"),
        ),
        alerts=(
            Alert("gc-release", Severity.WARNING, "gc'd", "close it", 7, "app.py:17", (), T0 + 70 * MS),
            Alert("unreleased", Severity.CRITICAL, "never closed", "use with", 2, "app.py:12", (), T0 + 99 * MS),
            Alert("fd-growth", Severity.WARNING, "fds grew", "close sockets"),
        ),
        streams=(
            StreamStats(5, "chunks", T0 + 15 * MS, T0 + 20 * MS, T0 + 80 * MS, True, 3, 300,
                        ((T0 + 20 * MS, 1, 100), (T0 + 50 * MS, 2, 200), (T0 + 80 * MS, 3, 300))),
        ),
        samples=tuple(Sample(T0 + k * 10 * MS, 10_000_000 + k, 10 + k, 3, 0, 1.0) for k in range(10)),
        marks=(Mark(T0, "run start"), Mark(T0 + 96 * MS, "workload end")),
        meta={"repeat": "1"},
    )


@pytest.mark.parametrize("at_ms", [-1, 0, 1, 5, 12, 20, 35, 60, 70, 85, 99, 100, 150])
def test_a_feed_at_any_time_is_snapshot_at(snapshot: RunSnapshot, at_ms: int) -> None:
    """GIVEN a recording WHEN a replay recorder is advanced to t (in one go or step by step)
    THEN it holds exactly what snapshot_at(t) describes."""
    t = T0 + at_ms * MS
    feed = ReplayFeed(snapshot)
    expected = snapshot_at(snapshot, t)
    one_go = feed.recorder_at(t)
    stepped = feed.recorder_at(T0 - 5 * MS)
    for ms in range(-5, at_ms + 1, 7):
        stepped.advance(T0 + ms * MS)
    stepped.advance(t)
    for rec in (one_go, stepped):
        assert rec.lifetimes() == list(expected.lifetimes)
        assert rec.marks() == list(expected.marks)
        got = {s.lifetime_id: (s.series, s.chunks, s.bytes, s.first_chunk_ns, s.ended) for s in rec.streams()}
        assert got == {s.lifetime_id: (s.series, s.chunks, s.bytes, s.first_chunk_ns, s.ended)
                       for s in expected.streams}
    assert snapshot.end_ns is not None
    if t < snapshot.end_ns:  # at the end snapshot_at is the snapshot itself (every alert)
        assert feed.alerts_until(t) == list(expected.alerts)
    else:
        assert feed.alerts_until(t) == list(snapshot.alerts)
    assert feed.samples_until(t) == list(expected.samples)


def test_batches_announce_every_change_once(snapshot: RunSnapshot) -> None:
    feed = ReplayFeed(snapshot)
    rec = feed.recorder_at(T0 + 12 * MS)
    batches: list[Any] = []
    rec.subscribe(batches.append)
    rec.drain()
    rec.advance(T0 + 65 * MS)
    rec.drain()
    assert batches[0].acquired == (0, 2, 3)
    assert batches[0].released == ()
    assert set(batches[1].acquired) == {5, 7, 8}
    assert set(batches[1].released) == {0, 3}
    assert 5 in batches[1].streams
    assert rec.drain().acquired == ()  # nothing new


# ----------------------------------------------------------------------------- in the window
@pytest.fixture(scope="module")
def real_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """class-cm/faulty recorded by the headless CLI (`withscope run ... --record`)."""
    path = tmp_path_factory.mktemp("rec") / "faulty.withscope.db"
    code = f"from withscope.core.cli import main; raise SystemExit(main(['run', 'class-cm/faulty', '--quiet', " \
           f"'--record', {str(path)!r}]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return path


def _shown(window: Any) -> tuple[int, int, int]:
    s = window.bridge.store
    return s.n, int(np.count_nonzero(s.outcome[: s.n] == -1)), window.alerts.model.rowCount()


def test_replay_fills_the_docks_and_the_slider_moves_lifetimes(
    window: MainWindow, loop: asyncio.AbstractEventLoop, real_recording: Path
) -> None:
    path = real_recording
    snap = open_recording(path)
    assert snap.lifetimes
    assert any(a.rule == "unreleased" for a in snap.alerts)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        replay = window.features.replay
        assert await window.features.open_recording(path)
        assert replay.active
        assert present(replay.bar).isVisible()
        # at the end: every lifetime, every alert, the samples in the metrics dock
        seen["end"] = _shown(window)
        seen["samples"] = len(window.metrics.ring.view())
        seen["title"] = window.alerts.windowTitle()
        # scrub back with the slider (debounced) to when half of the lifetimes were acquired
        acquired = sorted(lt.acquired_ns for lt in snap.lifetimes)
        duration = present(replay.feed).end_ns - snap.t0_ns
        value = round((acquired[len(acquired) // 2] - snap.t0_ns) / duration * 10_000)
        present(replay.bar).slider.setValue(value)
        await until(lambda: replay.t_ns < present(replay.feed).end_ns, 5, "the slider to seek")
        seen["mid_t"] = replay.t_ns
        seen["mid_target"] = snap.t0_ns + round(value / 10_000 * duration)
        seen["mid"] = _shown(window)
        seen["mid_expected"] = snapshot_at(present(replay.snapshot), replay.t_ns)
        seen["now"] = window.bridge.now_s()
        replay.seek(present(replay.feed).end_ns)
        seen["again"] = _shown(window)
        # play from the start at max speed: the time moves on its own and stops at the end
        replay.seek(snap.t0_ns)
        seen["start"] = _shown(window)
        replay.set_speed("max")
        replay.set_playing(True)
        await until(lambda: not replay.playing, 10, "the replay to play to the end")
        seen["played"] = _shown(window)
        replay.close()
        seen["closed"] = (window.bridge.store.n, present(replay.bar).isVisible())
        await close_window(window)

    loop.run_until_complete(scenario())
    n, n_open, n_alerts = seen["end"]
    assert n == len(snap.lifetimes)
    assert n_alerts == len(snap.alerts)
    assert n_open == sum(lt.released_ns is None for lt in snap.lifetimes)
    assert seen["samples"] == len(snap.samples) > 0
    assert "critical" in seen["title"]
    exp = seen["mid_expected"]
    assert abs(seen["mid_t"] - seen["mid_target"]) <= 1
    assert seen["mid"] == (len(exp.lifetimes), sum(lt.is_open for lt in exp.lifetimes), len(exp.alerts))
    assert 0 < seen["mid"][0] < n, "half-way, fewer lifetimes were acquired"
    assert seen["now"] == pytest.approx((seen["mid_t"] - snap.t0_ns) / 1e9), "open bars end at the slider"
    assert seen["again"] == seen["end"]
    assert seen["start"][0] == 0
    assert seen["played"] == seen["end"]
    assert seen["closed"] == (0, False)


@pytest.mark.parametrize(("speed", "factor"), [("1×", 1.0), ("4×", 4.0), ("4x", 4.0)])
def test_replay_speeds_move_run_time_by_that_factor(
    window: MainWindow, loop: asyncio.AbstractEventLoop, real_recording: Path, monkeypatch: pytest.MonkeyPatch,
    speed: str, factor: float,
) -> None:
    # GIVEN a recording opened and set to play from its start at `speed`, on a clock we move by hand
    from withscope.gui.recordings import replay as replay_module

    clock = [1000.0]
    monkeypatch.setattr(vars(replay_module)["time"], "monotonic", lambda: clock[0])  # replay's own `time`
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        replay = window.features.replay
        assert await window.features.open_recording(real_recording)
        replay.seek(present(replay.feed).start_ns)
        replay.set_speed(speed)
        replay.set_playing(True)
        replay._play_timer.stop()  # frames are driven below, one per 12.5 ms of (fake) wall time
        start = replay.t_ns
        for _ in range(4):
            clock[0] += 0.0125
            replay._on_frame()
        seen["advanced_ns"] = replay.t_ns - start
        seen["playing"] = replay.playing
        replay.close()
        await close_window(window)

    loop.run_until_complete(scenario())
    # THEN 50 ms of wall time moved the run's time by 50 ms x factor (the run is longer than that)
    assert seen["playing"] is True
    assert seen["advanced_ns"] == pytest.approx(0.05e9 * factor, rel=1e-6)


def test_save_then_replay_a_session_run_and_a_live_run_ends_the_replay(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    path = tmp_path / "saved.withscope.db"
    seen: dict[str, Any] = {}

    folder = tmp_path / "recorded"

    async def scenario() -> None:
        window.features.record_to(folder)  # File > Record runs to a folder
        window.run_workloads(["class-cm/faulty"])
        seen["refused"] = await window.features.open_recording(path)  # while a run goes
        seen["refused_text"] = window.messages.text()
        await until(lambda: not window.controller.is_running(), 30, "the run to end")
        history = window.features.history
        assert history is not None
        await until(lambda: not history._tasks, 10, "the folder recording to be finished")
        seen["recorded"] = sorted(folder.iterdir())
        seen["live"] = _shown(window)
        assert await window.features.save_recording(path)  # File > Save recording (latest run)
        replay = window.features.replay
        assert await window.features.open_recording(path)
        seen["replayed"] = _shown(window)
        window.run_workloads(["class-cm/correct"])
        seen["after_run"] = (replay.active, window.bridge.running())
        await until(lambda: not window.controller.is_running(), 30, "the run to end")
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["refused"] is False
    assert "Stop the running workloads" in seen["refused_text"]
    assert seen["replayed"] == seen["live"]
    [recorded] = seen["recorded"]
    assert recorded.name.startswith("class-cm-faulty-")
    assert recorded.name.endswith(".withscope.db")
    folder_snap = open_recording(recorded)
    assert folder_snap.status == "ok"
    assert len(folder_snap.lifetimes) == seen["live"][0]
    assert {a.rule for a in folder_snap.alerts} == {"unreleased"}
    assert seen["after_run"] == (False, ["class-cm/correct"])
    names = {window.bridge.run_name(int(k)) for k in np.unique(window.bridge.store.run[: window.bridge.store.n])}
    assert names == {"class-cm/correct"}


def test_bad_files_are_messages_never_crashes(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path, real_recording: Path
) -> None:
    garbage = tmp_path / "garbage.withscope.db"
    garbage.write_bytes(b"\x00garbage, not a recording" * 100)
    truncated = tmp_path / "truncated.withscope.db"
    data = real_recording.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    newer = tmp_path / "newer.withscope.db"
    shutil.copy(real_recording, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    cases = [(garbage, "not"), (truncated, "truncated"), (newer, "newer")]
    seen: list[tuple[Path, str, Any, bool, bool]] = []

    async def scenario() -> None:
        for bad, _problem in cases:
            ok = await window.features.open_recording(bad)
            seen.append((bad, window.messages.text(), ok, window.messages.isVisible(), window.features.replay.active))
        # the app goes on: the good file still opens
        assert await window.features.open_recording(real_recording)
        await close_window(window)

    loop.run_until_complete(scenario())
    for (bad, problem), (path, text, ok, visible, active) in zip(cases, seen, strict=True):
        assert path == bad
        assert ok is False
        assert visible
        assert "Cannot open the recording" in text
        assert str(bad) in text
        assert problem in text
        assert not active
