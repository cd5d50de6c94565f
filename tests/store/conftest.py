"""Hand-built snapshots for the recording store tests."""

from __future__ import annotations

import pytest
from withscope.core.events import Alert, Lifetime, Mark, Outcome, Sample, Severity, StreamStats
from withscope.core.snapshot import RunSnapshot

T0 = 1_000_000_000_000
MS = 1_000_000


def lifetime(lid: int, **kw: object) -> Lifetime:
    base: dict[str, object] = dict(
        id=lid,
        kind="db.connection",
        label=f"conn {lid}",
        site="app.py:10",
        stack=(),
        thread="MainThread",
        task=None,
        acquired_ns=T0 + lid * MS,
        released_ns=T0 + (lid + 5) * MS,
        outcome=Outcome.RELEASED,
        error=None,
        error_type=None,
        suppressed=False,
        suppression_declared=False,
        released_by_close=False,
    )
    base.update(kw)
    return Lifetime(**base)  # type: ignore[arg-type]


@pytest.fixture
def full_snapshot() -> RunSnapshot:
    """Every kind of row: released, open, errored, suppressed lifetimes, alerts with and without a
    lifetime, samples, a stream with its series, marks and options."""
    return RunSnapshot(
        target="class-cm/faulty",
        status="error",
        error="ValueError: boom",
        t0_ns=T0,
        wall_t0=1_700_000_000.25,
        end_ns=T0 + 100 * MS,
        lifetimes=(
            lifetime(0),
            lifetime(1, released_ns=None, outcome=Outcome.OPEN, stack=("a.py:1 in f", "b.py:2 in g"), task="Task-1"),
            lifetime(
                2,
                kind="file",
                label='<tmp & "x">',
                outcome=Outcome.RELEASED_WITH_ERROR,
                error="ValueError: boom",
                error_type="builtins.ValueError",
                suppressed=True,
                suppression_declared=True,
                released_by_close=True,
            ),
            lifetime(3, kind="stream", label="chunks", site=None),
        ),
        alerts=(
            Alert("unreleased", Severity.CRITICAL, "conn 1 never closed", "use `with`", 1, "app.py:10", ("x",), T0),
            Alert("fd-growth", Severity.WARNING, "fds grew", "close sockets"),
        ),
        streams=(
            StreamStats(
                3,
                "chunks",
                T0 + 3 * MS,
                T0 + 4 * MS,
                T0 + 8 * MS,
                True,
                3,
                300,
                ((T0 + 4 * MS, 1, 100), (T0 + 6 * MS, 2, 200), (T0 + 8 * MS, 3, 300)),
            ),
        ),
        samples=(Sample(T0, 10_000_000, 12, 3, 1, 0.0), Sample(T0 + 50 * MS, 11_000_000, 14, 3, 2, 12.5)),
        marks=(Mark(T0, "run started"), Mark(T0 + 100 * MS, "run ended")),
        dropped_events=7,
        meta={"repeat": "2", "db": "sqlite"},
    )
