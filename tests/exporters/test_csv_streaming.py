"""The CSV tables are written row by row: memory independent of the number of lifetimes."""

from __future__ import annotations

import csv
import tracemalloc
from dataclasses import replace
from pathlib import Path

from exporter_snapshots import make_run
from test_json_streaming import LazyLifetimes
from withscope.core.exporters import export


def _peak_of_exporting(n: int, out: Path) -> int:
    snap = replace(make_run(), lifetimes=LazyLifetimes(n))
    tracemalloc.start()
    try:
        export(snap, "csv", out, what="lifetimes")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_lifetimes_table_is_written_in_memory_independent_of_its_length(tmp_path: Path) -> None:
    small = _peak_of_exporting(3_000, tmp_path / "small.csv")
    big = _peak_of_exporting(30_000, tmp_path / "big.csv")
    assert big < 1.5 * small, f"peak {big >> 10} KiB for 30k rows vs {small >> 10} KiB for 3k"
    with (tmp_path / "big.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 30_001
    assert rows[-1][2] == "/data/part-00029999.csv"
