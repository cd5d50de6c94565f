"""The JSON report: exactly the "withscope.report/1" schema, times in seconds from the run start."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import targets_sample as ts
from withscope.core import Recorder, track, track_stream
from withscope.core.report import SCHEMA, build_report, write_report
from withscope.core.runner import RunOptions, run_target
from withscope.core.snapshot import RunSnapshot
from withscope.core.targets import Target

TOP = {"schema", "target", "status", "error", "duration_s", "lifetimes", "alerts", "streams", "samples"}
LIFETIME = {"id", "kind", "label", "site", "acquired_s", "released_s", "outcome", "error", "suppressed",
                 "released_by_cleanup"}
ALERT = {"rule", "severity", "lifetime_id", "message", "site", "hint"}
STREAM = {"label", "ttfb_ms", "duration_ms", "chunks", "bytes", "throughput_bps"}
SAMPLE = {"t_s", "rss_bytes", "fds", "threads", "connections", "cpu_percent"}


async def streaming_and_leaky() -> None:
    for _ in track_stream([b"ab", b"cde"], "body"):
        await asyncio.sleep(0.001)
    ts.LEAKED.append(track(open(ts.DEVNULL)))  # noqa: ASYNC230, SIM115


def test_report_of_a_real_run_has_exactly_the_schema(tmp_path: Path) -> None:
    target = Target("streaming_and_leaky", streaming_and_leaky, is_async=True, takes_context=False)
    snap = asyncio.run(run_target(target, RunOptions()))
    report = build_report(snap)
    assert set(report) == TOP
    assert report["schema"] == SCHEMA == "withscope.report/1"
    assert report["target"] == "streaming_and_leaky"
    assert report["status"] == "ok"
    assert report["error"] is None
    assert report["duration_s"] == round(snap.duration_s, 6) > 0
    assert all(set(x) == LIFETIME for x in report["lifetimes"])
    assert all(set(x) == ALERT for x in report["alerts"])
    assert all(set(x) == STREAM for x in report["streams"])
    assert all(set(x) == SAMPLE for x in report["samples"])
    by_kind = {x["kind"]: x for x in report["lifetimes"]}
    assert by_kind["file"]["released_s"] is None
    assert by_kind["file"]["outcome"] == "open"
    assert 0 <= by_kind["stream"]["acquired_s"] <= by_kind["stream"]["released_s"] <= report["duration_s"]
    assert [a["rule"] for a in report["alerts"]] == ["unreleased"]
    (stream,) = report["streams"]
    assert stream["chunks"] == 2
    assert stream["bytes"] == 5
    assert stream["ttfb_ms"] >= 0
    assert report["samples"]
    assert all(0 <= s["t_s"] <= report["duration_s"] for s in report["samples"])
    out = tmp_path / "r.json"
    write_report(snap, out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))


def test_an_unfinished_snapshot_reports_up_to_the_latest_event() -> None:
    with Recorder() as rec:
        handle = track(open(ts.DEVNULL))  # noqa: SIM115
    snap = RunSnapshot("t", "running", None, rec.t0_ns, rec.wall_t0, None, tuple(rec.lifetimes()))
    handle.close()
    report = build_report(snap)
    assert report["duration_s"] == report["lifetimes"][0]["acquired_s"] >= 0
    json.dumps(report, allow_nan=False)
