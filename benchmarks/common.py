"""Benchmark helpers: interleaved A/B rounds, medians, a result table.

Every machine-dependent figure is a ratio against a baseline measured in the same run,
interleaved A B A B ..., reported as the median of the per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    key: str
    value: float
    unit: str
    target: str  # e.g. "<= 4.0"
    detail: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        op, num = self.target.split()
        bound = float(num.replace(",", ""))
        return self.value <= bound if op == "<=" else self.value >= bound


def time_per_op(fn: Callable[[int], None], n: int) -> float:
    """Seconds per operation of `fn(n)` (which performs n operations)."""
    t0 = time.perf_counter()
    fn(n)
    return (time.perf_counter() - t0) / n


def interleaved_ratio(
    candidate: Callable[[int], None], baseline: Callable[[int], None], n: int, rounds: int
) -> tuple[float, float, float]:
    """Median over rounds of candidate/baseline time per op; also the medians of each (ns/op)."""
    candidate(max(1, n // 10))  # warm up both
    baseline(max(1, n // 10))
    ratios, cand, base = [], [], []
    for _ in range(rounds):
        b = time_per_op(baseline, n)
        c = time_per_op(candidate, n)
        ratios.append(c / b)
        cand.append(c * 1e9)
        base.append(b * 1e9)
    return statistics.median(ratios), statistics.median(cand), statistics.median(base)


def print_table(results: list[Result], quick: bool = False) -> None:
    """One row per figure; in quick mode (sizes too small for the targets) the ok column says `-`."""
    w = max(len(r.key) for r in results)
    print(f"{'key':<{w}}  {'value':>14}  {'target':>12}  ok   detail")
    for r in results:
        ok = "-" if quick else "yes" if r.ok else "NO"
        print(f"{r.key:<{w}}  {r.value:>14,.3f}  {r.target:>12}  {ok:<3}  {r.detail}")
