"""A long recording's lifetimes are read from the file when used: exporting it takes memory
independent of its length (a 1 M-lifetime recording's JSON export peaked at 2.4 GB)."""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from exporter_snapshots import make_run
from test_json_streaming import LazyLifetimes
from withscope.core.exporters import export
from withscope.core.report import iter_report
from withscope.core.store import RecordingError, open_recording, save_snapshot
from withscope.core.store import reader as store_reader


@pytest.fixture
def lazy_above_100(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_reader, "LAZY_LIFETIMES", 100)


def _recording(tmp_path: Path, n: int) -> Path:
    path = tmp_path / f"r{n}.db"
    save_snapshot(replace(make_run(), lifetimes=LazyLifetimes(n)), path)
    return path


@pytest.mark.usefixtures("lazy_above_100")
def test_a_long_recording_reads_the_same_lifetimes_from_the_file(tmp_path: Path) -> None:
    path = _recording(tmp_path, 500)
    back = open_recording(path)
    assert isinstance(back.lifetimes, store_reader.RecordingLifetimes)
    assert len(back.lifetimes) == 500
    made = LazyLifetimes(500)
    assert back.lifetimes == list(made)
    assert back.lifetimes[0] == made[0]
    assert back.lifetimes[-1] == made[499]
    assert back.lifetimes[10:13] == tuple(made[10:13])
    assert "".join(iter_report(back)) == "".join(iter_report(replace(back, lifetimes=tuple(made))))
    assert len(repr(back)) < 300


@pytest.mark.usefixtures("lazy_above_100")
def test_a_recording_gone_since_it_was_opened_is_one_error(tmp_path: Path) -> None:
    path = _recording(tmp_path, 300)
    back = open_recording(path)
    path.unlink()
    path.write_bytes(b"not sqlite at all" * 10)
    with pytest.raises(RecordingError):
        list(back.lifetimes)


def _peak_of_export(path: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        export(open_recording(path), "json", out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.usefixtures("lazy_above_100")
def test_exporting_a_recording_takes_memory_independent_of_its_length(tmp_path: Path) -> None:
    small = _peak_of_export(_recording(tmp_path, 3_000), tmp_path / "small.json")
    big = _peak_of_export(_recording(tmp_path, 30_000), tmp_path / "big.json")
    assert big < 1.5 * small, f"peak {big >> 10} KiB for 30k lifetimes vs {small >> 10} KiB for 3k"
    assert len(json.loads((tmp_path / "big.json").read_text(encoding="utf-8"))["lifetimes"]) == 30_000
