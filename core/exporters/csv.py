"""CSV tables of a run: lifetimes, alerts, samples and streams, one file per table.

Times are seconds since the run started (like the JSON report); an empty cell means "none"
(an open lifetime's release, an alert without a lifetime). Stacks are joined with `` | ``.
Files are UTF-8 with a header row, written with the `csv` module's default (Excel) dialect.

`write(snapshot, out_path, what=None)`:
- ``what`` one of `TABLES`: exactly that table, to ``out_path``;
- ``what`` None and ``out_path`` an existing directory: ``lifetimes.csv``, ``alerts.csv``,
  ``samples.csv`` and ``streams.csv`` inside it;
- ``what`` None otherwise: ``run.csv`` becomes ``run.lifetimes.csv``, ``run.alerts.csv``, ...
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from withscope.core.outputs import check_output, open_text, recording_inputs
from withscope.core.snapshot import RunSnapshot

from ._common import finite

TABLES = ("lifetimes", "alerts", "samples", "streams")

LIFETIME_COLUMNS = (
    "id", "kind", "label", "site", "thread", "task", "acquired_s", "released_s", "duration_s", "outcome",
    "error", "error_type", "suppressed", "suppression_declared", "released_by_close", "released_by_cleanup",
    "stack",
)  # fmt: skip
ALERT_COLUMNS = ("t_s", "rule", "severity", "lifetime_id", "message", "hint", "site", "stack")
SAMPLE_COLUMNS = ("t_s", "rss_bytes", "fds", "threads", "connections", "cpu_percent")
STREAM_COLUMNS = ("lifetime_id", "label", "started_s", "ttfb_ms", "duration_ms", "chunks", "bytes",
                  "throughput_bps", "ended")  # fmt: skip


def _s(snapshot: RunSnapshot, t_ns: int | None) -> str:
    return "" if t_ns is None else f"{snapshot.seconds(t_ns):.9f}"


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _lifetimes(snapshot: RunSnapshot) -> Iterator[tuple[Any, ...]]:
    yield LIFETIME_COLUMNS
    workload_end = snapshot.workload_end_ns
    for lt in snapshot.lifetimes:
        dur = "" if lt.released_ns is None else f"{(lt.released_ns - lt.acquired_ns) / 1e9:.9f}"
        yield (
            lt.id, lt.kind, lt.label, lt.site, lt.thread, lt.task, _s(snapshot, lt.acquired_ns),
            _s(snapshot, lt.released_ns), dur, lt.outcome.value, lt.error, lt.error_type, lt.suppressed,
            lt.suppression_declared, lt.released_by_close, snapshot.released_by_cleanup(lt, workload_end),
            " | ".join(lt.stack),
        )  # fmt: skip


def _alerts(snapshot: RunSnapshot) -> Iterator[tuple[Any, ...]]:
    yield ALERT_COLUMNS
    for a in snapshot.alerts:
        yield (_s(snapshot, a.t_ns), a.rule, a.severity.value, a.lifetime_id, a.message, a.hint, a.site,
               " | ".join(a.stack))  # fmt: skip


def _samples(snapshot: RunSnapshot) -> Iterator[tuple[Any, ...]]:
    yield SAMPLE_COLUMNS
    for s in snapshot.samples:
        yield (_s(snapshot, s.t_ns), s.rss_bytes, s.fds, s.threads, s.connections, finite(s.cpu_percent))


def _streams(snapshot: RunSnapshot) -> Iterator[tuple[Any, ...]]:
    yield STREAM_COLUMNS
    for st in snapshot.streams:
        ttfb = st.ttfb_ns
        yield (
            st.lifetime_id, st.label, _s(snapshot, st.started_ns), "" if ttfb is None else f"{ttfb / 1e6:.3f}",
            f"{st.duration_ns / 1e6:.3f}", st.chunks, st.bytes, f"{finite(st.throughput_bps):.1f}", st.ended,
        )  # fmt: skip


_ROWS: dict[str, Callable[[RunSnapshot], Iterator[tuple[Any, ...]]]] = {
    "lifetimes": _lifetimes,
    "alerts": _alerts,
    "samples": _samples,
    "streams": _streams,
}


def table_csv(snapshot: RunSnapshot, what: str) -> str:
    """One table as CSV text."""
    if what not in _ROWS:
        raise ValueError(f"unknown CSV table {what!r}; choose one of {', '.join(TABLES)}")
    buf = io.StringIO()
    _write_table(buf, snapshot, what)
    return buf.getvalue()


def _write_table(f: TextIO, snapshot: RunSnapshot, what: str) -> None:
    """Write one table to `f` row by row (memory independent of the number of rows)."""
    w = csv.writer(f)
    for row in _ROWS[what](snapshot):
        w.writerow([_cell(v) for v in row])


def output_paths(out_path: Path, what: str | None = None) -> dict[str, Path]:
    """Where `write` puts each table (see the module docstring)."""
    if what is not None:
        return {what: out_path}
    if out_path.is_dir():
        return {t: out_path / f"{t}.csv" for t in TABLES}
    stem = out_path.name[: -len(".csv")] if out_path.name.lower().endswith(".csv") else out_path.name
    return {t: out_path.with_name(f"{stem}.{t}.csv") for t in TABLES}


WHAT = "withscope CSV table"
_HEADERS = {
    ",".join(cols).encode() for cols in (LIFETIME_COLUMNS, ALERT_COLUMNS, SAMPLE_COLUMNS, STREAM_COLUMNS)
}


def owns(head: bytes) -> bool:
    """True when `head` (a file's first bytes) starts with the header row of one of withscope's tables."""
    return head.split(b"\r\n", 1)[0] in _HEADERS


def write(snapshot: RunSnapshot, out_path: Path, what: str | None = None) -> list[Path]:
    """Write one table (`what`) or all of them; returns the files written.

    A lone surrogate in a cell (a label made from a non-UTF-8 file name) is written as its
    backslash escape, ``\\udcff``. Every path is checked before the first file is written."""
    if what is not None and what not in _ROWS:
        raise ValueError(f"unknown CSV table {what!r}; choose one of {', '.join(TABLES)}")
    paths = output_paths(out_path, what)
    inputs = recording_inputs(snapshot.meta)
    for path in paths.values():
        check_output(path, owns, WHAT, inputs=inputs)
    written: list[Path] = []
    for table, path in paths.items():
        with open_text(path, owns, WHAT, inputs=inputs, newline="") as f:
            _write_table(f, snapshot, table)
        written.append(path)
    return written
