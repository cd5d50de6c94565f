"""Helpers every exporter shares: the run's end, lane packing, number formatting."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence

from withscope.core.events import Lifetime, Outcome

# Every outcome, in the order legends list them.
OUTCOME_ORDER = tuple(o.value for o in Outcome)  # the enum's order


def kinds_in_order(lifetimes: Iterable[Lifetime]) -> list[str]:
    """Lifetime kinds in order of first acquisition (the lanes' order everywhere)."""
    seen: dict[str, None] = {}
    for lt in sorted(lifetimes, key=lambda x: (x.acquired_ns, x.id)):
        seen.setdefault(lt.kind, None)
    return list(seen)


def pack_lanes(lifetimes: Sequence[Lifetime], end_ns: int) -> tuple[dict[int, int], int]:
    """Assign each lifetime a lane so that lifetimes sharing a lane never overlap in time.

    Open lifetimes last until `end_ns`. Greedy interval partitioning: the number of lanes is the
    peak number of lifetimes held at once. Returns (lane by lifetime id, number of lanes).
    """
    lanes: dict[int, int] = {}
    free: list[tuple[int, int]] = []  # (end time, lane) of the lanes in use, earliest end first
    count = 0
    for lt in sorted(lifetimes, key=lambda x: (x.acquired_ns, x.id)):
        end = lt.released_ns if lt.released_ns is not None else max(end_ns, lt.acquired_ns)
        if free and free[0][0] <= lt.acquired_ns:
            _, lane = heapq.heappop(free)
        else:
            lane = count
            count += 1
        lanes[lt.id] = lane
        heapq.heappush(free, (end, lane))
    return lanes, count


def finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def fmt_seconds(seconds: float) -> str:
    """A duration a person reads at a glance: 850 µs, 12.3 ms, 4.56 s, 2 min 5 s."""
    s = abs(seconds)
    if s < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if s < 1:
        return f"{seconds * 1e3:.1f} ms"
    if s < 120:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover
