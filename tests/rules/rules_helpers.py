"""Builders of hand-made records for rule tests (times in ms from 0 for readability)."""

from __future__ import annotations

from withscope.core.events import Lifetime, Mark, Outcome, Sample, StreamStats
from withscope.core.marks import repeat_end, repeat_start
from withscope.core.rules import RuleConfig, RuleContext

MS = 1_000_000


def lt(
    lid: int,
    kind: str = "file",
    label: str = "/tmp/data.txt",
    *,
    at_ms: float = 0,
    until_ms: float | None = None,
    outcome: Outcome | None = None,
    site: str | None = "app.py:12",
    error: str | None = None,
    error_type: str | None = None,
    suppressed: bool = False,
    declared: bool = False,
) -> Lifetime:
    if outcome is None:
        outcome = Outcome.OPEN if until_ms is None else Outcome.RELEASED
    return Lifetime(
        id=lid,
        kind=kind,
        label=label,
        site=site,
        stack=(),
        thread="MainThread",
        task=None,
        acquired_ns=int(at_ms * MS),
        released_ns=None if until_ms is None else int(until_ms * MS),
        outcome=outcome,
        error=error,
        error_type=error_type,
        suppressed=suppressed,
        suppression_declared=declared,
    )


def ctx(*lifetimes: Lifetime, now_ms: float = 100, final: bool = False, **kw: object) -> RuleContext:
    return RuleContext(lifetimes=lifetimes, now_ns=int(now_ms * MS), final=final, **kw)  # type: ignore[arg-type]


def stream(lid: int, points: list[tuple[float, int, int]], *, ended: bool = True, label: str = "body") -> StreamStats:
    """points: (t_ms, cumulative chunks, cumulative bytes)."""
    series = tuple((int(t * MS), c, b) for t, c, b in points)
    return StreamStats(
        lifetime_id=lid,
        label=label,
        started_ns=0,
        first_chunk_ns=series[0][0] if series else None,
        last_ns=series[-1][0] if series else 0,
        ended=ended,
        chunks=series[-1][1] if series else 0,
        bytes=series[-1][2] if series else 0,
        series=series,
    )


def stream_from_costs(lid: int, chunk_costs_us: list[float], chunk: int = 1024, post_every: int = 10) -> StreamStats:
    """A stream whose i-th chunk took chunk_costs_us[i]; a post every `post_every` chunks."""
    t = 0.0
    points = [(0.0, 1, chunk)]
    for i, cost in enumerate(chunk_costs_us[1:], start=2):
        t += cost / 1000
        if i % post_every == 0 or i == len(chunk_costs_us):
            points.append((t, i, i * chunk))
    return stream(lid, points)


def repeats(values: list[dict[str, int]], *, gap_ms: float = 100) -> tuple[list[Sample], list[Mark]]:
    """Samples and marks for len(values) repeats; each dict gives the level after that repeat."""
    samples: list[Sample] = []
    marks: list[Mark] = []
    n = len(values)
    for i, v in enumerate(values, start=1):
        start = int((i - 1) * gap_ms * MS)
        end = int((i * gap_ms - 10) * MS)
        marks.append(Mark(start, repeat_start(i, n)))
        marks.append(Mark(end, repeat_end(i, n)))
        # a noisy mid-repeat sample, then the boundary sample right after the end mark
        samples.append(Sample(start + 5 * MS, 999 << 20, 999, 999, 999, 50.0))
        samples.append(
            Sample(end + 1, v.get("rss", 100 << 20), v.get("fds", 10), v.get("threads", 3), v.get("conns", 0), 1.0)
        )
    return samples, marks


CFG = RuleConfig()
