"""Chrome trace export: the JSON must follow the trace event format's rules so Perfetto and
chrome://tracing load it (required keys per phase, numeric ts, dur >= 0, nesting per track)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from exporter_snapshots import NASTY, T0
from withscope.core.exporters import chrome
from withscope.core.snapshot import RunSnapshot

PHASES = {"X", "i", "I", "C", "M", "B", "E", "b", "e", "n"}
METADATA_NAMES = {"process_name", "thread_name", "process_sort_index", "thread_sort_index", "process_labels"}


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def validate_trace(doc: Any) -> list[str]:
    """Problems with a trace in the JSON object format (empty list: valid)."""
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        return ["top level must be an object with a traceEvents array"]
    if doc.get("displayTimeUnit") not in (None, "ms", "ns"):
        problems.append("displayTimeUnit must be 'ms' or 'ns'")
    named_threads = set()
    spans: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for n, ev in enumerate(doc["traceEvents"]):
        where = f"event {n} ({ev.get('ph')!r} {ev.get('name')!r})"
        if not isinstance(ev, dict):
            problems.append(f"event {n} is not an object")
            continue
        ph = ev.get("ph")
        if ph not in PHASES:
            problems.append(f"{where}: unknown phase")
        if not isinstance(ev.get("name"), str):
            problems.append(f"{where}: name must be a string")
        if not isinstance(ev.get("pid"), int):
            problems.append(f"{where}: pid must be an integer")
        if "args" in ev and not isinstance(ev["args"], dict):
            problems.append(f"{where}: args must be an object")
        if ph == "M":
            if ev.get("name") not in METADATA_NAMES:
                problems.append(f"{where}: unknown metadata name")
            if not isinstance(ev.get("args"), dict) or not ev["args"]:
                problems.append(f"{where}: metadata needs args")
            if ev.get("name") == "thread_name":
                named_threads.add((ev["pid"], ev.get("tid")))
            continue
        if not _num(ev.get("ts")):
            problems.append(f"{where}: ts must be a finite number")
        if ph == "X":
            if not isinstance(ev.get("tid"), int):
                problems.append(f"{where}: a complete event needs an integer tid")
            if not _num(ev.get("dur")) or ev["dur"] < 0:
                problems.append(f"{where}: dur must be a number >= 0")
            else:
                spans[(ev["pid"], ev["tid"])].append((ev["ts"], ev["ts"] + ev["dur"]))
        if ph in ("i", "I") and ev.get("s", "t") not in ("g", "p", "t"):
            problems.append(f"{where}: instant scope must be g, p or t")
        if ph == "C":
            args = ev.get("args")
            if not isinstance(args, dict) or not args or not all(_num(v) for v in args.values()):
                problems.append(f"{where}: a counter needs numeric args")
    for track, intervals in spans.items():
        if track not in named_threads:
            problems.append(f"track {track} has no thread_name")
        # complete events on one track must be disjoint or properly nested
        stack: list[float] = []
        for start, end in sorted(intervals, key=lambda se: (se[0], -se[1])):
            while stack and stack[-1] <= start + 1e-6:
                stack.pop()
            if stack and end > stack[-1] + 1e-6:
                problems.append(f"track {track}: [{start}, {end}] overlaps a slice without nesting in it")
            stack.append(end)
    return problems


def _roundtrip(snapshot: RunSnapshot, tmp_path: Path) -> dict[str, Any]:
    (path,) = chrome.write(snapshot, tmp_path / "run.trace.json")
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def test_validator_catches_what_breaks_the_viewers() -> None:
    bad = {
        "traceEvents": [
            {"name": "a", "ph": "X", "pid": 1, "tid": 1, "ts": "0", "dur": -1},
            {"name": "b", "ph": "C", "pid": 1, "ts": 0, "args": {"v": "high"}},
            {"name": "c", "ph": "i", "s": "x", "pid": 1, "ts": 0},
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": 2, "args": {"name": "t"}},
            {"name": "d", "ph": "X", "pid": 1, "tid": 2, "ts": 0, "dur": 10},
            {"name": "e", "ph": "X", "pid": 1, "tid": 2, "ts": 5, "dur": 10},
            {"name": "f", "ph": "X", "pid": 1, "tid": 3, "ts": 0, "dur": 1},
        ]
    }
    problems = "\n".join(validate_trace(bad))
    for expected in ("ts must be", "dur must be", "numeric args", "instant scope", "without nesting", "no thread_name"):
        assert expected in problems


def test_trace_is_valid_and_complete(run: RunSnapshot, tmp_path: Path) -> None:
    # GIVEN a faulty run WHEN exported THEN the JSON follows the format's rules
    doc = _roundtrip(run, tmp_path)
    assert validate_trace(doc) == []
    assert doc["displayTimeUnit"] == "ms"
    events = doc["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert sorted(e["args"]["id"] for e in slices) == [lt.id for lt in run.lifetimes]
    # ts/dur in microseconds since the run started
    first = next(e for e in slices if e["args"]["id"] == 1)
    assert (first["ts"], first["dur"]) == (10_000.0, 50_000.0)


def test_overlapping_lifetimes_of_one_kind_get_their_own_tracks(run: RunSnapshot, tmp_path: Path) -> None:
    doc = _roundtrip(run, tmp_path)
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    conn_tids = {e["tid"] for e in doc["traceEvents"] if e["ph"] == "X" and e["args"]["kind"] == "db.connection"}
    # three connections held at once at t=20..40 ms: three tracks
    assert sorted(names[t] for t in conn_tids) == ["db.connection", "db.connection #2", "db.connection #3"]
    assert names[0] == "run"


def test_open_lifetime_ends_at_run_end_and_says_so(run: RunSnapshot, tmp_path: Path) -> None:
    doc = _roundtrip(run, tmp_path)
    (leak,) = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["args"]["id"] == 2]
    assert leak["name"] == NASTY  # JSON carries the label as is
    assert leak["ts"] + leak["dur"] == 100_000.0
    assert leak["args"]["open_at_end"] is True
    assert leak["args"]["outcome"] == "open"
    closed = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["args"]["id"] != 2]
    assert all("open_at_end" not in e["args"] for e in closed)


def test_alerts_are_global_instants_and_samples_are_counters(run: RunSnapshot, tmp_path: Path) -> None:
    doc = _roundtrip(run, tmp_path)
    alerts = [e for e in doc["traceEvents"] if e.get("cat") == "alert"]
    assert next((e["name"], e["ph"], e["s"]) for e in alerts)[1:] == ("i", "g")
    assert {e["name"] for e in alerts} == {"critical: unreleased", "warning: fd-growth", "info: gc-release"}
    no_lifetime = next(e for e in alerts if e["name"] == "warning: fd-growth")
    assert "lifetime_id" not in no_lifetime["args"]
    assert no_lifetime["ts"] == 100_000.0  # no time: placed at the run's end
    counters = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "C":
            counters[e["name"]].append(e["args"]["value"])
    for name in ("RSS (MiB)", "open fds", "threads", "connections", "CPU %"):
        assert len(counters[name]) == len(run.samples)
    assert counters["CPU %"][4] == 0.0  # NaN never reaches the JSON
    assert any(name.startswith("stream chunks #6") for name in counters)


def test_empty_and_unfinished_runs_are_valid(empty_run: RunSnapshot, unfinished_run: RunSnapshot,
                                             tmp_path: Path) -> None:  # fmt: skip
    assert validate_trace(_roundtrip(empty_run, tmp_path)) == []
    doc = _roundtrip(unfinished_run, tmp_path)
    assert validate_trace(doc) == []
    (leak,) = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["args"]["id"] == 2]
    # no end time: the run ends at the last thing seen (the last sample at 100 ms)
    assert leak["ts"] + leak["dur"] == (run_end := 100_000.0)
    assert run_end == (max(s.t_ns for s in unfinished_run.samples) - T0) / 1000
