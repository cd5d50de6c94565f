"""Hand-built snapshots for the exporter tests (no recorder, no runner: exporters read snapshots)."""

from __future__ import annotations

from withscope.core.events import Alert, Lifetime, Mark, Outcome, Sample, Severity, StreamStats
from withscope.core.snapshot import RunSnapshot

T0 = 5_000_000_000
MS = 1_000_000
NASTY = "<blink>&\"x'</blink>"  # a label every exporter must escape or quote


def lt(lid: int, kind: str, start_ms: float, end_ms: float | None, outcome: Outcome, **kw: object) -> Lifetime:
    return Lifetime(
        id=lid,
        kind=kind,
        label=str(kw.pop("label", f"{kind} {lid}")),
        site=kw.pop("site", "app.py:12"),  # type: ignore[arg-type]
        stack=kw.pop("stack", ()),  # type: ignore[arg-type]
        thread="MainThread",
        task=None,
        acquired_ns=T0 + int(start_ms * MS),
        released_ns=None if end_ms is None else T0 + int(end_ms * MS),
        outcome=outcome,
        error=kw.pop("error", None),  # type: ignore[arg-type]
        error_type=kw.pop("error_type", None),  # type: ignore[arg-type]
        suppressed=bool(kw.pop("suppressed", False)),
        suppression_declared=False,
        released_by_close=False,
    )


def make_run() -> RunSnapshot:
    """A faulty run: overlapping connections (not nested), one leaked, a failing file, a stream."""
    lifetimes = (
        lt(0, "db.connection", 0, 40, Outcome.RELEASED),
        lt(1, "db.connection", 10, 60, Outcome.RELEASED),  # overlaps 0 without nesting
        lt(2, "db.connection", 20, None, Outcome.OPEN, label=NASTY, stack=("app.py:12 in main", "lib.py:3 in go")),
        lt(3, "file", 5, 15, Outcome.RELEASED_WITH_ERROR, error="ValueError: <bad> & worse", error_type="ValueError"),
        lt(4, "file", 30, 31, Outcome.EXIT_RAISED, error="OSError: disk"),
        lt(5, "tempfile", 32, 90, Outcome.GC),
        lt(6, "stream", 40, 80, Outcome.RELEASED, label="chunks"),
        lt(7, "file", 50, 55, Outcome.RELEASED, suppressed=True),
    )
    series = tuple((T0 + (40 + 5 * i) * MS, i, i * i * 100) for i in range(1, 9))
    return RunSnapshot(
        target=f"demo/{NASTY}",
        status="ok",
        error=None,
        t0_ns=T0,
        wall_t0=1_700_000_000.0,
        end_ns=T0 + 100 * MS,
        lifetimes=lifetimes,
        alerts=(
            Alert(
                "unreleased",
                Severity.CRITICAL,
                f"{NASTY} never closed",
                "open it with `with` & <close>",
                2,
                "app.py:12",
                ("app.py:12 in main",),
                T0 + 100 * MS,
            ),
            Alert("fd-growth", Severity.WARNING, "open fds grew by 12 over 3 repeats", "close sockets"),
            Alert(
                "gc-release", Severity.INFO, "released by the GC", "use contextlib.closing", 5, None, (), T0 + 90 * MS
            ),
        ),
        streams=(StreamStats(6, "chunks", T0 + 40 * MS, T0 + 45 * MS, T0 + 80 * MS, True, 8, 6400, series),),
        samples=tuple(
            Sample(T0 + i * 10 * MS, 50_000_000 + i * 1_000_000, 10 + i, 2, i // 3, float("nan") if i == 4 else 5.0 * i)
            for i in range(11)
        ),
        marks=(Mark(T0, "run 1 started"), Mark(T0 + 100 * MS, f"run 1 ended {NASTY}")),
        meta={"repeat": "1", "note": NASTY},
    )
