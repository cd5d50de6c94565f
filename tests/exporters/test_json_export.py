"""JSON report export: the "withscope.report/1" schema of the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exporter_snapshots import NASTY, make_run
from withscope.core.exporters import json_report
from withscope.core.report import build_report, write_report
from withscope.core.snapshot import RunSnapshot

LIFETIME_KEYS = {"id", "kind", "label", "site", "acquired_s", "released_s", "outcome", "error", "suppressed",
                 "released_by_cleanup"}
ALERT_KEYS = {"rule", "severity", "lifetime_id", "message", "site", "hint"}
STREAM_KEYS = {"label", "ttfb_ms", "duration_ms", "chunks", "bytes", "throughput_bps"}
SAMPLE_KEYS = {"t_s", "rss_bytes", "fds", "threads", "connections", "cpu_percent"}


def test_report_follows_the_schema(run: RunSnapshot, tmp_path: Path) -> None:
    (path,) = json_report.write(run, tmp_path / "r.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema"] == "withscope.report/1"
    assert (doc["target"], doc["status"], doc["error"]) == (run.target, "ok", None)
    assert doc["duration_s"] == pytest.approx(0.1)
    assert all(set(x) == LIFETIME_KEYS for x in doc["lifetimes"])
    assert all(set(x) == ALERT_KEYS for x in doc["alerts"])
    assert all(set(x) == STREAM_KEYS for x in doc["streams"])
    assert all(set(x) == SAMPLE_KEYS for x in doc["samples"])
    leak = doc["lifetimes"][2]
    assert (leak["label"], leak["released_s"], leak["outcome"]) == (NASTY, None, "open")
    assert doc["alerts"][1]["lifetime_id"] is None
    assert doc["samples"][4]["cpu_percent"] == 0.0


def test_the_exporter_writes_exactly_the_cli_report(run: RunSnapshot, tmp_path: Path) -> None:
    (ours,) = json_report.write(run, tmp_path / "export.json")
    write_report(run, tmp_path / "cli.json")
    assert ours.read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_empty_run(empty_run: RunSnapshot) -> None:
    doc = json_report.build(empty_run)
    assert (doc["lifetimes"], doc["alerts"], doc["streams"], doc["samples"]) == ([], [], [], [])
    assert doc["duration_s"] == 0.0


def test_a_lifetime_only_the_cleanup_released_is_reported_as_left_open(tmp_path: Path) -> None:
    # GIVEN a run whose workload ended at 50 ms with one connection still open, closed by cleanup at 60 ms
    from dataclasses import replace

    from exporter_snapshots import MS, T0, lt
    from withscope.core.events import Mark, Outcome
    from withscope.core.exporters import csv as csv_export
    from withscope.core.exporters import html as html_export

    snap = replace(
        make_run(),
        lifetimes=(lt(1, "file", 1, 10, Outcome.RELEASED), lt(2, "db.connection", 2, 60, Outcome.RELEASED)),
        marks=(Mark(T0, "run start"), Mark(T0 + 50 * MS, "workload end"), Mark(T0 + 55 * MS, "cleanup")),
        alerts=(),
    )
    # WHEN it is exported
    report = build_report(snap)
    table = csv_export.table_csv(snap, "lifetimes").splitlines()
    page = html_export.html_report(snap)
    # THEN every format says the connection was left open by the workload, and only it
    assert [lt["released_by_cleanup"] for lt in report["lifetimes"]] == [False, True]
    col = table[0].split(",").index("released_by_cleanup")
    assert [row.split(",")[col] for row in table[1:]] == ["false", "true"]
    assert "left open by the workload" in page
    assert '<span class="muted">left open</span><b>1</b>' in page
