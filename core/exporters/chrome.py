"""Chrome trace event format (JSON object form): a run opens in Perfetto or chrome://tracing.

Layout (one process, pid 1, named after the target):

- tid 0, "run": marks and alerts as global instant events (``"ph": "i", "s": "g"``);
- one track per lifetime kind (tid 1, 2, ... in order of first acquisition, named by
  ``thread_name`` metadata events): every lifetime is a complete event (``"ph": "X"``, ``ts``
  and ``dur`` in microseconds since the run started). Complete events on one track must nest,
  and resources overlap freely, so a kind held several at once gets several tracks
  ("db.connection", "db.connection #2", ...): one per lifetime held at the same time at peak.
  A lifetime still open at the end of the run ends there, with ``"open_at_end": true``;
- counters (``"ph": "C"``) for the process samples (RSS MiB, open fds, threads, connections,
  CPU %) and each stream's throughput (bytes/s).

Pure function of a `RunSnapshot`; no I/O except in `write`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from withscope.core.events import Outcome
from withscope.core.outputs import open_text, recording_inputs
from withscope.core.snapshot import RunSnapshot

from ._common import finite, kinds_in_order, pack_lanes

PID = 1
RUN_TID = 0

# (counter name, Sample attribute, scale)
COUNTERS: tuple[tuple[str, str, float], ...] = (
    ("RSS (MiB)", "rss_bytes", 1 / (1024 * 1024)),
    ("open fds", "fds", 1.0),
    ("threads", "threads", 1.0),
    ("connections", "connections", 1.0),
    ("CPU %", "cpu_percent", 1.0),
)


def _us(snapshot: RunSnapshot, t_ns: int) -> float:
    return round((t_ns - snapshot.t0_ns) / 1000, 3)


def _meta_event(name: str, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": PID, "tid": tid, "args": args}


def chrome_trace(snapshot: RunSnapshot) -> dict[str, Any]:
    """The trace as a JSON-ready dict: ``{"traceEvents": [...], "displayTimeUnit": "ms", ...}``."""
    end = snapshot.run_end_ns
    events: list[dict[str, Any]] = [
        _meta_event("process_name", RUN_TID, {"name": f"withscope: {snapshot.target}"}),
        _meta_event("thread_name", RUN_TID, {"name": "run"}),
        _meta_event("thread_sort_index", RUN_TID, {"sort_index": 0}),
    ]
    timed: list[dict[str, Any]] = []

    next_tid = 1
    for kind in kinds_in_order(snapshot.lifetimes):
        group = [lt for lt in snapshot.lifetimes if lt.kind == kind]
        lanes, count = pack_lanes(group, end)
        tids = list(range(next_tid, next_tid + count))
        next_tid += count
        for i, tid in enumerate(tids):
            events.append(_meta_event("thread_name", tid, {"name": kind if i == 0 else f"{kind} #{i + 1}"}))
            events.append(_meta_event("thread_sort_index", tid, {"sort_index": tid}))
        for lt in group:
            is_open = lt.outcome is Outcome.OPEN or lt.released_ns is None
            stop = end if is_open else (lt.released_ns or end)
            args: dict[str, Any] = {
                "id": lt.id,
                "kind": lt.kind,
                "outcome": lt.outcome.value,
                "site": lt.site,
                "thread": lt.thread,
            }
            if lt.task:
                args["task"] = lt.task
            if lt.error:
                args["error"] = lt.error
                args["error_type"] = lt.error_type
            if lt.suppressed:
                args["suppressed"] = True
                args["suppression_declared"] = lt.suppression_declared
            if lt.released_by_close:
                args["released_by_close"] = True
            if lt.stack:
                args["stack"] = list(lt.stack)
            if is_open:
                args["open_at_end"] = True
                args["note"] = "still open when the run ended; the bar ends at the run's end"
            ts = _us(snapshot, lt.acquired_ns)
            timed.append(
                {
                    "name": lt.label or lt.kind,
                    "cat": "lifetime",
                    "ph": "X",
                    "ts": ts,
                    "dur": max(0.0, round(_us(snapshot, max(stop, lt.acquired_ns)) - ts, 3)),
                    "pid": PID,
                    "tid": tids[lanes[lt.id]],
                    "args": args,
                }
            )

    for m in snapshot.marks:
        timed.append(
            {"name": m.text, "cat": "mark", "ph": "i", "s": "g", "ts": _us(snapshot, m.t_ns), "pid": PID, "tid": 0}
        )
    for a in snapshot.alerts:
        alert_args: dict[str, Any] = {"severity": a.severity.value, "message": a.message, "hint": a.hint}
        if a.lifetime_id is not None:
            alert_args["lifetime_id"] = a.lifetime_id
        if a.site:
            alert_args["site"] = a.site
        if a.stack:
            alert_args["stack"] = list(a.stack)
        if a.t_ns is None:
            alert_args["note"] = "raised at the end of the run"
        timed.append(
            {
                "name": f"{a.severity.value}: {a.rule}",
                "cat": "alert",
                "ph": "i",
                "s": "g",
                "ts": _us(snapshot, a.t_ns if a.t_ns is not None else end),
                "pid": PID,
                "tid": RUN_TID,
                "args": alert_args,
            }
        )
    for s in snapshot.samples:
        ts = _us(snapshot, s.t_ns)
        for name, attr, scale in COUNTERS:
            value = finite(float(getattr(s, attr)) * scale)
            timed.append({"name": name, "cat": "metrics", "ph": "C", "ts": ts, "pid": PID, "args": {"value": value}})
    for st in snapshot.streams:
        name = f"stream {st.label} #{st.lifetime_id} (bytes/s)"
        timed.append(
            {"name": name, "cat": "stream", "ph": "C", "ts": _us(snapshot, st.started_ns), "pid": PID,
             "args": {"value": 0.0}}
        )  # fmt: skip
        for t_ns, bps, _cps in st.rates():
            timed.append(
                {"name": name, "cat": "stream", "ph": "C", "ts": _us(snapshot, t_ns), "pid": PID,
                 "args": {"value": round(finite(bps), 3)}}
            )  # fmt: skip
        if st.ended:
            timed.append(
                {"name": name, "cat": "stream", "ph": "C", "ts": _us(snapshot, max(st.last_ns, st.started_ns)),
                 "pid": PID, "args": {"value": 0.0}}
            )  # fmt: skip

    timed.sort(key=lambda e: e["ts"])
    return {
        "traceEvents": events + timed,
        "displayTimeUnit": "ms",
        "otherData": {
            "producer": "withscope",
            "target": snapshot.target,
            "status": snapshot.status,
            "error": snapshot.error,
            "wall_t0": snapshot.wall_t0,
            "dropped_events": snapshot.dropped_events,
            **{f"option.{k}": v for k, v in snapshot.meta.items()},
        },
    }


WHAT = "withscope Chrome trace"


def owns(head: bytes) -> bool:
    """True when `head` (a file's first bytes) starts a trace withscope wrote (it may be replaced)."""
    return head.lstrip().startswith(b'{"traceEvents":') and b'"name":"withscope: ' in head


def write(snapshot: RunSnapshot, out_path: Path) -> list[Path]:
    """Write the trace to `out_path` (conventionally ``*.json``). Returns the files written.

    ASCII JSON: a lone surrogate in a label is its ``\\uXXXX`` escape, which JSON readers decode back."""
    text = json.dumps(chrome_trace(snapshot), allow_nan=False, separators=(",", ":"))
    with open_text(out_path, owns, WHAT, inputs=recording_inputs(snapshot.meta)) as f:
        f.write(text)
    return [out_path]
