"""CSV export: lifetimes, alerts, samples and streams, readable by any CSV reader."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from exporter_snapshots import NASTY
from withscope.core.exporters import csv as csv_export
from withscope.core.snapshot import RunSnapshot


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_all_tables_next_to_the_given_name(run: RunSnapshot, tmp_path: Path) -> None:
    # GIVEN a run WHEN exported to run.csv THEN four files named after it
    written = csv_export.write(run, tmp_path / "run.csv")
    assert [p.name for p in written] == ["run.lifetimes.csv", "run.alerts.csv", "run.samples.csv", "run.streams.csv"]
    lifetimes = _read(tmp_path / "run.lifetimes.csv")
    assert [r["id"] for r in lifetimes] == [str(lt.id) for lt in run.lifetimes]
    leak = lifetimes[2]
    assert leak["label"] == NASTY  # quotes and commas survive the round trip
    assert (leak["released_s"], leak["duration_s"], leak["outcome"]) == ("", "", "open")
    assert leak["stack"] == "app.py:12 in main | lib.py:3 in go"
    assert float(lifetimes[1]["acquired_s"]) == pytest.approx(0.010)
    assert float(lifetimes[1]["duration_s"]) == pytest.approx(0.050)
    assert lifetimes[7]["suppressed"] == "true"
    alerts = _read(tmp_path / "run.alerts.csv")
    assert [(a["rule"], a["lifetime_id"], a["t_s"]) for a in alerts][1] == ("fd-growth", "", "")
    samples = _read(tmp_path / "run.samples.csv")
    assert len(samples) == len(run.samples)
    assert samples[4]["cpu_percent"] == "0.0"
    (stream,) = _read(tmp_path / "run.streams.csv")
    assert (stream["label"], stream["chunks"], stream["bytes"], stream["ttfb_ms"]) == ("chunks", "8", "6400", "5.000")


def test_one_table_or_a_directory(run: RunSnapshot, tmp_path: Path) -> None:
    assert csv_export.write(run, tmp_path / "a.csv", what="alerts") == [tmp_path / "a.csv"]
    assert len(_read(tmp_path / "a.csv")) == 3
    out = tmp_path / "dir"
    out.mkdir()
    assert sorted(p.name for p in csv_export.write(run, out)) == [
        "alerts.csv", "lifetimes.csv", "samples.csv", "streams.csv"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown CSV table 'events'"):
        csv_export.write(run, tmp_path / "x.csv", what="events")


def test_empty_run_has_headers_only(empty_run: RunSnapshot, tmp_path: Path) -> None:
    for path in csv_export.write(empty_run, tmp_path / "e.csv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1
        assert lines[0].split(",")[0] in ("id", "t_s", "lifetime_id")
