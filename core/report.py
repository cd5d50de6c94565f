"""The JSON report of a run, schema "withscope.report/1" (what `withscope run --json FILE` writes).

    build_report(snapshot) -> dict        # json.dumps(..., allow_nan=False) always succeeds
    write_report(snapshot, path)          # streamed: memory independent of the run's length
    iter_report(snapshot) -> Iterator[str]  # the text write_report writes, piece by piece

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

import dataclasses
import io
import json
import json.encoder
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .events import Alert, Lifetime, Sample, StreamStats
from .redact import redact_record, redact_snapshot, redact_text
from .snapshot import RunSnapshot, TableLifetimes
from .textsafe import json_safe

SCHEMA = "withscope.report/1"
_CHUNK_ITEMS = 2000  # list items joined per write: few system calls, bounded memory


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def _header(snapshot: RunSnapshot) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "target": snapshot.target,
        "status": snapshot.status,
        "error": snapshot.error,
        "duration_s": round(max(0, snapshot.run_end_ns - snapshot.t0_ns) / 1e9, 6),
    }


def _rows(snapshot: RunSnapshot) -> dict[str, Iterable[dict[str, Any]]]:
    """Each list of the report as a lazy iterable of its items (one item built at a time)."""
    t0 = snapshot.t0_ns
    workload_end = snapshot.workload_end_ns

    def sec(t_ns: int) -> float:
        return round((t_ns - t0) / 1e9, 6)

    def lifetime(lt: Lifetime) -> dict[str, Any]:
        return {
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

    def alert(a: Alert) -> dict[str, Any]:
        return {
            "rule": a.rule,
            "severity": a.severity.value,
            "lifetime_id": a.lifetime_id,
            "message": a.message,
            "site": a.site,
            "hint": a.hint,
        }

    def stream(st: StreamStats) -> dict[str, Any]:
        return {
            "label": st.label,
            "ttfb_ms": None if st.ttfb_ns is None else round(st.ttfb_ns / 1e6, 3),
            "duration_ms": round(st.duration_ns / 1e6, 3),
            "chunks": st.chunks,
            "bytes": st.bytes,
            "throughput_bps": round(_finite(st.throughput_bps), 1),
        }

    def sample(s: Sample) -> dict[str, Any]:
        return {
            "t_s": sec(s.t_ns),
            "rss_bytes": s.rss_bytes,
            "fds": s.fds,
            "threads": s.threads,
            "connections": s.connections,
            "cpu_percent": round(_finite(s.cpu_percent), 2),
        }

    return {
        "lifetimes": map(lifetime, snapshot.lifetimes),
        "alerts": map(alert, snapshot.alerts),
        "streams": map(stream, snapshot.streams),
        "samples": map(sample, snapshot.samples),
    }


def build_report(snapshot: RunSnapshot) -> dict[str, Any]:
    """The report as plain JSON-ready data (see the module docstring). Holds every item at once:
    for a long run, `write_report`/`iter_report` stream it instead."""
    snapshot = redact_snapshot(snapshot)  # no secret reaches a report, whatever made the snapshot
    report = _header(snapshot)
    report.update((key, list(items)) for key, items in _rows(snapshot).items())
    return report


def _dumps(value: Any, indent: int | None = 2) -> str:
    """One JSON value as the report writes it (UTF-8 text, no NaN)."""
    return json.dumps(value, indent=indent, allow_nan=False, ensure_ascii=False)


_encode_str = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses (C)
_INF = float("inf")


def _scalar(v: Any) -> str:
    """`json.dumps(v, allow_nan=False, ensure_ascii=False)` for the values report items hold,
    without the pure-Python indenting encoder (json.dumps(indent=...) is ~10x slower per item)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _encode_str(v)
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, float):
        if v != v or v in (_INF, -_INF):
            raise ValueError(f"Out of range float values are not JSON compliant: {v!r}")
        return float.__repr__(v)
    return _dumps(v, None)


def _item(item: dict[str, Any], keys: dict[str, str]) -> str:
    """A flat report item as `json.dumps(item, indent=2)` indented one level deeper (4 spaces)."""
    if not item:
        return "{}"
    fields = []
    for k, v in item.items():
        key = keys.get(k)
        if key is None:
            key = keys[k] = _encode_str(k)
        fields.append(f"{key}: {_scalar(v)}")
    return "{\n      " + ",\n      ".join(fields) + "\n    }"


def _lifetime_texts(snapshot: RunSnapshot, lifetimes: Iterable[Lifetime]) -> Iterator[str]:
    """Each lifetime as `_item` writes its `_rows` dict, formatted directly (a long run's report
    is mostly these: no dict, no generic dispatch per value), redacted one at a time."""
    t0 = snapshot.t0_ns
    workload_end = snapshot.workload_end_ns
    enc = _encode_str

    def opt(text: str | None) -> str:
        return "null" if text is None else enc(text)

    rows: Iterable[tuple[int, str, str, str | None, int, int | None, str, str | None, bool]]
    if isinstance(lifetimes, TableLifetimes):
        # Columnar: each distinct label and error is redacted once (a run repeats a few labels).
        memo: dict[str, str] = {}

        def scrub(text: str | None) -> str | None:
            if text is None:
                return None
            done = memo.get(text)
            if done is None:
                done = redact_text(text)
                if len(memo) < 100_000:  # bounded: a run of millions of distinct labels
                    memo[text] = done
            return done

        rows = (
            (i, kind, scrub(label) or "", site, acq, rel, outcome, scrub(error), suppressed)
            for i, kind, label, site, acq, rel, outcome, error, suppressed in lifetimes.report_rows()
        )
    else:
        rows = (
            (lt.id, lt.kind, lt.label, lt.site, lt.acquired_ns, lt.released_ns, lt.outcome.value, lt.error,
             lt.suppressed)
            for lt in map(redact_record, lifetimes)
        )  # fmt: skip
    for lid, kind, label, site, acq, rel, outcome, error, suppressed in rows:
        released = "null" if rel is None else repr(round((rel - t0) / 1e9, 6))
        cleanup = workload_end is not None and rel is not None and rel > workload_end
        yield (
            f'{{\n      "id": {int.__repr__(lid)},\n      "kind": {enc(kind)},\n      "label": {enc(label)},'
            f'\n      "site": {opt(site)},\n      "acquired_s": {round((acq - t0) / 1e9, 6)!r},'
            f'\n      "released_s": {released},\n      "outcome": {enc(outcome)},'
            f'\n      "error": {opt(error)},\n      "suppressed": {"true" if suppressed else "false"},'
            f'\n      "released_by_cleanup": {"true" if cleanup else "false"}\n    }}'
        )


def iter_report(snapshot: RunSnapshot) -> Iterator[str]:
    """The report's text in pieces, exactly `json.dumps(build_report(snapshot), indent=2)` plus a
    newline, one list item built at a time: memory independent of the number of lifetimes."""
    lifetimes = snapshot.lifetimes  # redacted one at a time as they are written
    snapshot = redact_snapshot(dataclasses.replace(snapshot, lifetimes=()))
    fields = [f"  {_dumps(key)}: {_dumps(value)}" for key, value in _header(snapshot).items()]
    yield "{\n" + ",\n".join(fields)
    keys: dict[str, str] = {}
    texts: dict[str, Iterable[str]] = {
        key: (_item(item, keys) for item in items) for key, items in _rows(snapshot).items()
    }
    texts["lifetimes"] = _lifetime_texts(snapshot, lifetimes)
    for key in ("lifetimes", "alerts", "streams", "samples"):
        yield f",\n  {_dumps(key)}: ["
        sep = "\n    "
        chunk: list[str] = []
        for text in texts[key]:
            chunk.append(sep + text)
            sep = ",\n    "
            if len(chunk) >= _CHUNK_ITEMS:
                yield "".join(chunk)
                chunk.clear()
        if chunk:
            yield "".join(chunk)
        yield "]" if sep == "\n    " else "\n  ]"
    yield "\n}\n"


def write_report(snapshot: RunSnapshot, path: str | Path) -> None:
    """Write the report as indented UTF-8 JSON ("-" writes to stdout), streamed (`iter_report`).

    A lone surrogate (a label made from a non-UTF-8 file name) is written as its backslash
    escape, which in a JSON string is exactly its ``\\uXXXX`` escape: the file is valid UTF-8 and
    decodes back to the same string. Stdout gets UTF-8 bytes whatever the locale."""
    if str(path) == "-":
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stream (a StringIO standing in for stdout)
            _write_all(lambda piece: sys.stdout.write(json_safe(piece)), snapshot)
            return
        out = io.TextIOWrapper(buffer, encoding="utf-8", errors="backslashreplace", write_through=True)
        try:
            _write_all(out.write, snapshot)
            out.flush()
        finally:
            out.detach()  # sys.stdout's buffer stays open
        return
    with open(path, "w", encoding="utf-8", errors="backslashreplace") as f:
        _write_all(f.write, snapshot)


def _write_all(write: Callable[[str], Any], snapshot: RunSnapshot) -> None:
    for piece in iter_report(snapshot):
        write(piece)
