"""OS-level growth across repeats, from the psutil samples (all final-only).

The runner marks the end of every repeat (`repeat i/N end`) and takes a sample right after it,
so each repeat has one *level* per metric: the first sample at or after its end mark (or the
last one before it when none follows). Needs `growth_min_repeats` (3) repeats.

- `fd-growth`, `connection-growth`, `thread-growth`: the level never drops from one repeat to
  the next and rises in at least three quarters of the steps (all of them with 3 repeats).
- `memory-growth`: RSS by least-squares slope over the levels, so a one-off warm-up (which
  lands before the first level) does not alarm; alerts when every step rises, the slope is at
  least `memory_slope_bytes` per repeat, and the last step is still at least half the slope.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

from withscope.core.events import Alert, Lifetime, Mark, Sample, Severity
from withscope.core.marks import MarkKind, parse

from .base import RuleContext, alert

# Which tracked kinds can explain growth of each metric (used to point at a site).
_KINDS_FOR = {
    "fds": frozenset({"file", "tempfile", "socket", "stream.writer", "db.connection", "db.pool", "process"}),
    "connections": frozenset({"socket", "stream.writer", "db.connection", "db.pool", "pool.checkout"}),
    "threads": frozenset({"thread", "resource", "context"}),
}


def repeat_levels(samples: Sequence[Sample], marks: Sequence[Mark]) -> list[Sample]:
    """One sample per repeat end mark, in repeat order (empty when no samples)."""
    if not samples:
        return []
    ends: list[tuple[int, int]] = []
    for m in marks:
        info = parse(m.text)
        if info.kind is MarkKind.REPEAT_END:
            ends.append((info.repeat, m.t_ns))
    ends.sort()
    ordered = sorted(samples, key=lambda s: s.t_ns)
    levels: list[Sample] = []
    for _, t in ends:
        after = next((s for s in ordered if s.t_ns >= t), None)
        if after is None:
            before = [s for s in ordered if s.t_ns <= t]
            if not before:
                continue
            after = before[-1]
        levels.append(after)
    return levels


def _steady_rise(values: list[int]) -> bool:
    steps = [b - a for a, b in itertools.pairwise(values)]
    if not steps or any(s < 0 for s in steps):
        return False
    rising = sum(1 for s in steps if s > 0)
    return rising * 4 >= len(steps) * 3


def _suspect(lifetimes: Sequence[Lifetime], metric: str) -> tuple[str | None, str]:
    """The most common acquisition site among open lifetimes that could explain the metric."""
    kinds = _KINDS_FOR[metric]
    sites = Counter((lt.site, lt.kind) for lt in lifetimes if lt.is_open and lt.kind in kinds and lt.site)
    if not sites:
        return None, ""
    (site, kind), count = sites.most_common(1)[0]
    return site, f"; {count} {kind} lifetime(s) acquired at {site} are still open"


_COUNT_RULES = {
    "fds": ("fd-growth", "open file descriptors", "close files and sockets on every path (`with`)"),
    "connections": (
        "connection-growth",
        "open network connections",
        "close sockets, stream writers and database connections (`with`/`async with`, or close() in `finally`)",
    ),
    "threads": (
        "thread-growth",
        "threads",
        "join the threads you start, or use `with ThreadPoolExecutor() as ex:` so workers are shut down",
    ),
}


def _count_growth(ctx: RuleContext, metric: str) -> list[Alert]:
    levels = repeat_levels(ctx.samples, ctx.marks)
    if len(levels) < ctx.config.growth_min_repeats:
        return []
    values = [int(getattr(s, metric)) for s in levels]
    if not _steady_rise(values):
        return []
    rule, what, hint = _COUNT_RULES[metric]
    n = len(values)
    per = (values[-1] - values[0]) / (n - 1)
    site, extra = _suspect(ctx.lifetimes, metric)
    msg = (
        f"{what} grew in every repeat: {values[0]} -> {values[-1]} over {n} repeats "
        f"(+{per:.1f} per repeat), so each run of the workload leaves some open{extra}"
    )
    return [alert(rule, Severity.WARNING, msg, hint, None, levels[-1].t_ns, site)]


def fd_growth(ctx: RuleContext) -> list[Alert]:
    return _count_growth(ctx, "fds")


def connection_growth(ctx: RuleContext) -> list[Alert]:
    return _count_growth(ctx, "connections")


def thread_growth(ctx: RuleContext) -> list[Alert]:
    return _count_growth(ctx, "threads")


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of values against 0, 1, 2, ..."""
    n = len(values)
    if n < 2:
        return 0.0
    mx = (n - 1) / 2
    my = sum(values) / n
    num = sum((i - mx) * (v - my) for i, v in enumerate(values))
    den = sum((i - mx) ** 2 for i in range(n))
    return num / den


def memory_growth(ctx: RuleContext) -> list[Alert]:
    levels = repeat_levels(ctx.samples, ctx.marks)
    if len(levels) < ctx.config.growth_min_repeats:
        return []
    rss = [s.rss_bytes for s in levels]
    steps = [b - a for a, b in itertools.pairwise(rss)]
    k = slope(rss)
    if any(s <= 0 for s in steps) or k < ctx.config.memory_slope_bytes or steps[-1] < k / 2:
        return []
    mib = 1 << 20
    msg = (
        f"memory (RSS) grew in every repeat: {rss[0] / mib:.1f} -> {rss[-1] / mib:.1f} MiB over {len(rss)} "
        f"repeats (~{k / mib:.1f} MiB per repeat), so each run keeps data alive"
    )
    hint = (
        "look for caches, module-level lists or closures that keep growing across calls; "
        "tracemalloc snapshots taken between repeats show which lines allocate what stays"
    )
    return [alert("memory-growth", Severity.WARNING, msg, hint, None, levels[-1].t_ns)]
