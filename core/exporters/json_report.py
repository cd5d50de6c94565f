"""The JSON report ("withscope.report/1"), the same document `withscope run --json` writes.

Uses `withscope.core.report.build_report` when that module is present, so the CLI and this
exporter can never disagree; `report_dict` below is the schema of issue 3, kept as the fallback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..snapshot import RunSnapshot  # noqa: TID252 (mypy sees this tree as `core`)
from ._common import finite, run_end_ns

SCHEMA = "withscope.report/1"


def report_dict(snapshot: RunSnapshot) -> dict[str, Any]:
    """The report built here (times in seconds from the run start)."""

    def s(t_ns: int | None) -> float | None:
        return None if t_ns is None else round(snapshot.seconds(t_ns), 9)

    return {
        "schema": SCHEMA,
        "target": snapshot.target,
        "status": snapshot.status,
        "error": snapshot.error,
        "duration_s": round((run_end_ns(snapshot) - snapshot.t0_ns) / 1e9, 9),
        "lifetimes": [
            {
                "id": lt.id,
                "kind": lt.kind,
                "label": lt.label,
                "site": lt.site,
                "acquired_s": s(lt.acquired_ns),
                "released_s": s(lt.released_ns),
                "outcome": lt.outcome.value,
                "error": lt.error,
                "suppressed": lt.suppressed,
            }
            for lt in snapshot.lifetimes
        ],
        "alerts": [
            {
                "rule": a.rule,
                "severity": a.severity.value,
                "lifetime_id": a.lifetime_id,
                "message": a.message,
                "site": a.site,
                "hint": a.hint,
            }
            for a in snapshot.alerts
        ],
        "streams": [
            {
                "label": st.label,
                "ttfb_ms": None if st.ttfb_ns is None else st.ttfb_ns / 1e6,
                "duration_ms": st.duration_ns / 1e6,
                "chunks": st.chunks,
                "bytes": st.bytes,
                "throughput_bps": finite(st.throughput_bps),
            }
            for st in snapshot.streams
        ],
        "samples": [
            {
                "t_s": s(x.t_ns),
                "rss_bytes": x.rss_bytes,
                "fds": x.fds,
                "threads": x.threads,
                "connections": x.connections,
                "cpu_percent": finite(x.cpu_percent),
            }
            for x in snapshot.samples
        ],
    }


def build(snapshot: RunSnapshot) -> dict[str, Any]:
    """The report: core.report's when available (the CLI's own), else `report_dict`."""
    try:
        from .. import report  # type: ignore[attr-defined,unused-ignore]  # noqa: TID252
    except ImportError:
        return report_dict(snapshot)
    result: dict[str, Any] = report.build_report(snapshot)
    return result


def write(snapshot: RunSnapshot, out_path: Path) -> list[Path]:
    """Write the report as indented JSON. Returns the files written."""
    out_path.write_text(json.dumps(build(snapshot), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return [out_path]
