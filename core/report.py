"""The JSON report of a run, schema "withscope.report/1" (what `withscope run --json FILE` writes).

    build_report(snapshot) -> dict        # json.dumps(..., allow_nan=False) always succeeds
    write_report(snapshot, path)

Times are seconds from the run start (`RunSnapshot.t0_ns`), rounded to the microsecond;
stream durations and TTFB are milliseconds. Shape::

    {"schema": "withscope.report/1", "target": str, "status": "ok"|"error"|"cancelled",
     "error": str|null, "duration_s": float,
     "lifetimes": [{"id", "kind", "label", "site", "acquired_s", "released_s"|null, "outcome",
                    "error"|null, "suppressed": bool, "released_by_cleanup": bool}],
     "alerts": [{"rule", "severity", "lifetime_id"|null, "message", "site"|null, "hint"}],
     "streams": [{"label", "ttfb_ms", "duration_ms", "chunks", "bytes", "throughput_bps"}],
     "samples": [{"t_s", "rss_bytes", "fds", "threads", "connections", "cpu_percent"}]}

`released_by_cleanup` is true for a lifetime the workload left open that only the run's cleanup
released (its `outcome` then says how that cleanup ended it): as far as the workload goes, a leak.

A snapshot taken while the run goes on (end_ns None) reports its duration up to the latest
thing seen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .redact import redact_snapshot
from .snapshot import RunSnapshot

SCHEMA = "withscope.report/1"


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _end_ns(snap: RunSnapshot) -> int:
    if snap.end_ns is not None:
        return max(snap.end_ns, snap.t0_ns)
    latest = snap.t0_ns
    for lt in snap.lifetimes:
        latest = max(latest, lt.acquired_ns, lt.released_ns or 0)
    for s in snap.samples:
        latest = max(latest, s.t_ns)
    for m in snap.marks:
        latest = max(latest, m.t_ns)
    return latest


def build_report(snapshot: RunSnapshot) -> dict[str, Any]:
    """The report as plain JSON-ready data (see the module docstring)."""
    snapshot = redact_snapshot(snapshot)  # no secret reaches a report, whatever made the snapshot
    t0 = snapshot.t0_ns
    workload_end = snapshot.workload_end_ns

    def sec(t_ns: int) -> float:
        return round((t_ns - t0) / 1e9, 6)

    return {
        "schema": SCHEMA,
        "target": snapshot.target,
        "status": snapshot.status,
        "error": snapshot.error,
        "duration_s": round(max(0, _end_ns(snapshot) - t0) / 1e9, 6),
        "lifetimes": [
            {
                "id": lt.id,
                "kind": lt.kind,
                "label": lt.label,
                "site": lt.site,
                "acquired_s": sec(lt.acquired_ns),
                "released_s": None if lt.released_ns is None else sec(lt.released_ns),
                "outcome": lt.outcome.value,
                "error": lt.error,
                "suppressed": lt.suppressed,
                "released_by_cleanup": snapshot.released_by_cleanup(lt, workload_end),
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
                "ttfb_ms": None if st.ttfb_ns is None else round(st.ttfb_ns / 1e6, 3),
                "duration_ms": round(st.duration_ns / 1e6, 3),
                "chunks": st.chunks,
                "bytes": st.bytes,
                "throughput_bps": round(_finite(st.throughput_bps), 1),
            }
            for st in snapshot.streams
        ],
        "samples": [
            {
                "t_s": sec(s.t_ns),
                "rss_bytes": s.rss_bytes,
                "fds": s.fds,
                "threads": s.threads,
                "connections": s.connections,
                "cpu_percent": round(_finite(s.cpu_percent), 2),
            }
            for s in snapshot.samples
        ],
    }


def write_report(snapshot: RunSnapshot, path: str | Path) -> None:
    """Write the report as indented UTF-8 JSON ("-" writes to stdout)."""
    text = json.dumps(build_report(snapshot), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")
