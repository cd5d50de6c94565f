"""Bridge: hand-made recorder activity in, batched plain data out (one signal per tick, not per event)."""

from __future__ import annotations

import io
import time
from typing import Any, Literal

import numpy as np
import pytest
from withscope.core import Alert, Recorder, Sample, Severity, track, track_stream
from withscope.gui.bridge.bridge import Bridge, LifetimeStore
from withscope.gui.model.lanes import LaneLayout
from withscope.gui.model.ring import Ring


class CM:
    def __enter__(self) -> CM:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


class BadExit(CM):
    def __exit__(self, *exc: object) -> Literal[False]:
        raise RuntimeError("cleanup failed")


def collect(bridge: Bridge, signal_name: str) -> list[Any]:
    out: list[Any] = []
    getattr(bridge, signal_name).connect(out.append)
    return out


def test_tick_publishes_one_delta_per_tick_with_every_outcome() -> None:
    # GIVEN a bridge following a recorder with 100 released, 3 open, 1 error and 1 exit-raised lifetimes
    bridge = Bridge()
    rec = Recorder(name="hand")
    key = bridge.attach(rec, "hand-made")
    deltas = collect(bridge, "lifetimesChanged")
    held = []
    with rec:
        for _ in range(100):
            with track(CM()):
                pass
        held = [track(io.BytesIO(b"x"), kind="file", label=f"buf{i}") for i in range(3)]
        with pytest.raises(ValueError, match="boom"), track(CM(), kind="socket"):
            raise ValueError("boom")
        with pytest.raises(RuntimeError), track(BadExit(), kind="lock"):
            pass
    # WHEN one frame ticks
    bridge.tick()
    # THEN one delta carries all 105 rows with the recorder's outcome codes
    assert len(deltas) == 1
    s = bridge.store
    assert s.n == 105
    codes = sorted(s.outcome[: s.n].tolist())
    assert codes.count(0) == 100
    assert codes.count(-1) == 3
    assert codes.count(1) == 1
    assert codes.count(2) == 1
    assert set(s.kinds) >= {"resource", "file", "socket", "lock"}
    assert np.isnan(s.end[: s.n][s.outcome[: s.n] == -1]).all()
    assert (s.end[: s.n][s.outcome[: s.n] == 0] >= s.start[: s.n][s.outcome[: s.n] == 0]).all()
    assert bridge.run_name(key) == "hand-made"
    # WHEN the open ones are released later
    for h in held:
        h.close()
    bridge.tick()
    # THEN the next delta updates those rows (no new rows) and nothing is open
    last = deltas[-1]
    assert last.lo == last.hi == 105
    assert len(last.updated) == 3
    assert (s.outcome[: s.n] != -1).all()
    bridge.close()


def test_quiet_ticks_publish_no_lifetime_delta() -> None:
    bridge = Bridge()
    rec = Recorder()
    bridge.attach(rec, "quiet")
    deltas = collect(bridge, "lifetimesChanged")
    stats = collect(bridge, "statsChanged")
    bridge.tick()
    bridge.tick()
    assert deltas == []
    assert len(stats) == 2
    assert stats[-1].lifetimes == 0
    bridge.close()


def test_alerts_samples_streams_and_marks_are_published_once() -> None:
    bridge = Bridge()
    rec = Recorder()
    alerts: list[Alert] = []
    samples: list[Sample] = []
    key = bridge.attach(rec, "run", alerts=lambda: alerts, samples=lambda: samples)
    got_alerts = collect(bridge, "alertsAdded")
    got_samples = collect(bridge, "samplesAdded")
    got_streams = collect(bridge, "streamsChanged")
    got_marks = collect(bridge, "marksAdded")
    with rec:
        rec.mark("run start")
        f = track(io.BytesIO(b"x"), kind="file", label="leaked")
        for _chunk in track_stream([b"a" * 10, b"b" * 20], label="s", interval_s=0):
            pass
    bridge.tick()
    lid = bridge.store.lid[0]
    t = time.perf_counter_ns()
    alerts.append(Alert("unreleased", Severity.CRITICAL, "file leaked", "use with", int(lid), "x.py:1"))
    samples.extend([Sample(t, 50 * 1048576, 10, 2, 0, 1.5), Sample(t + 100, 51 * 1048576, 11, 2, 1, 2.0)])
    bridge.tick()
    bridge.tick()
    assert len(got_alerts) == 1
    assert got_alerts[0][0].alert.rule == "unreleased"
    assert got_alerts[0][0].row == bridge.store.row_of(key, int(lid))
    assert len(got_samples) == 1
    assert len(got_samples[0]) == 2
    assert got_samples[0].rss_mib.tolist() == [50.0, 51.0]
    assert got_streams
    assert got_streams[0][0].stats.bytes == 30
    assert [m.text for batch in got_marks for m in batch] == ["run start"]
    f.close()
    bridge.close()


def test_clear_forgets_finished_runs_and_keeps_running_ones() -> None:
    bridge = Bridge()
    done, live = Recorder(), Recorder()
    k_done = bridge.attach(done, "done")
    bridge.attach(live, "live")
    cleared: list[bool] = []
    bridge.cleared.connect(lambda: cleared.append(True))
    with done, track(CM()):
        pass
    with live:
        h = track(io.BytesIO(), kind="file")
    bridge.tick()
    bridge.finish(k_done)
    assert bridge.store.n == 2
    bridge.clear()
    assert cleared == [True]
    assert bridge.store.n == 1  # only the running run's lifetime is shown again
    assert bridge.running() == ["live"]
    h.close()
    bridge.close()


def test_withdrawn_acquisition_is_hidden() -> None:
    class FailingEnter:
        def close(self) -> None:
            pass

        def __enter__(self) -> None:
            raise OSError("cannot enter")

        def __exit__(self, *exc: object) -> None:
            return None

    bridge = Bridge()
    rec = Recorder()
    bridge.attach(rec, "r")
    with rec:
        handle = track(FailingEnter(), kind="file")
        bridge.tick()
        with pytest.raises(OSError, match="cannot enter"), handle:
            pass
    bridge.tick()
    s = bridge.store
    assert s.n == 1
    assert s.outcome[0] == -2
    bridge.close()


def test_store_maps_lifetime_ids_per_run() -> None:
    s = LifetimeStore()
    s.append(0, np.array([5, 7]), np.zeros(2), np.full(2, np.nan), np.full(2, -1, np.int8), np.zeros(2, np.int16))
    s.append(1, np.array([5]), np.zeros(1), np.zeros(1), np.zeros(1, np.int8), np.zeros(1, np.int16))
    assert s.row_of(0, 5) == 0
    assert s.row_of(0, 7) == 1
    assert s.row_of(1, 5) == 2
    assert s.row_of(0, 6) is None
    assert s.row_of(2, 0) is None


def test_lanes_never_overlap_inside_a_group() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    starts = np.sort(rng.uniform(0, 100, n))
    ends = starts + rng.exponential(2, n)
    ends[rng.random(n) < 0.05] = np.nan  # some open
    groups = [("a", "b", "c")[i % 3] for i in range(n)]
    lay = LaneLayout()
    lay.add(0, starts[:1000], ends[:1000], groups[:1000])
    lay.add(1000, starts[1000:], ends[1000:], groups[1000:])
    eff = np.where(np.isnan(ends), np.inf, ends)
    for g in range(3):
        for row in np.unique(lay.row[:n][lay.group[:n] == g]):
            idx = np.flatnonzero((lay.group[:n] == g) & (lay.row[:n] == row))
            idx = idx[np.argsort(starts[idx])]
            assert (starts[idx][1:] >= eff[idx][:-1]).all(), "two bars share a row at the same time"
    names = [name for name, _top, _rows in lay.groups()]
    assert names == ["a", "b", "c"]
    tops = [top for _n, top, _r in lay.groups()]
    assert tops == sorted(tops)


def test_ring_keeps_the_newest_rows() -> None:
    r = Ring(2, 5)
    r.extend(np.array([[i, i * 10] for i in range(3)], float))
    r.extend(np.array([[i, i * 10] for i in range(3, 9)], float))
    assert r.column(0).tolist() == [4, 5, 6, 7, 8]
    r.extend(np.array([[9, 90]], float))
    assert r.column(0).tolist() == [5, 6, 7, 8, 9]
    for i in range(10, 40):
        r.extend(np.array([[i, 0]], float))
    assert r.column(0).tolist() == [35, 36, 37, 38, 39]
