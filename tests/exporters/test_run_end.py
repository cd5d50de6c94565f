"""One run end for a live snapshot: the JSON report's duration, the HTML/SVG/Chrome time axes and
the replay all end at `RunSnapshot.run_end_ns` (the report once ignored alerts and streams)."""

from __future__ import annotations

from withscope.core.events import Alert, Severity, StreamStats
from withscope.core.report import build_report
from withscope.core.snapshot import RunSnapshot

T0 = 1_000_000_000


def live(**kw: object) -> RunSnapshot:
    return RunSnapshot(target="t", status="running", error=None, t0_ns=T0, wall_t0=0.0, end_ns=None, **kw)  # type: ignore[arg-type]


def test_a_live_run_ends_at_the_latest_thing_seen_whatever_it_is() -> None:
    stream = StreamStats(lifetime_id=0, label="s", started_ns=T0, first_chunk_ns=T0 + 1, last_ns=T0 + 3_000_000_000,
                         ended=False, chunks=1, bytes=1, series=())
    alert = Alert(rule="r", severity=Severity.INFO, message="m", hint="h", t_ns=T0 + 5_000_000_000)
    assert live(streams=(stream,)).run_end_ns == T0 + 3_000_000_000
    snap = live(streams=(stream,), alerts=(alert,))
    assert snap.run_end_ns == T0 + 5_000_000_000
    assert build_report(snap)["duration_s"] == 5.0


def test_a_finished_run_ends_at_its_end_never_before_its_start() -> None:
    done = RunSnapshot(target="t", status="ok", error=None, t0_ns=T0, wall_t0=0.0, end_ns=T0 + 2_000_000_000)
    assert done.run_end_ns == T0 + 2_000_000_000
    odd = RunSnapshot(target="t", status="ok", error=None, t0_ns=T0, wall_t0=0.0, end_ns=T0 - 5)
    assert odd.run_end_ns == T0
