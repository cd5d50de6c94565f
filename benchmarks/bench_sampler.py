"""CPU cost of the psutil `Sampler` (core/sampler.py) at 10 Hz, as % of one core.

Each round runs an idle asyncio loop for `seconds` twice - once with a `Sampler(0.1)` started,
once without (the baseline), in alternating order - and measures this process's CPU time
(user + system) over each. The figure is the median over rounds of
(cpu_with - cpu_without) / seconds * 100. Also reported: the sampler's own measured read cost.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time

from common import Result
from withscope.core.sampler import Sampler


def _cpu_over(seconds: float, with_sampler: bool) -> tuple[float, float, int]:
    """CPU seconds this process used while an idle loop ran `seconds` (with or without a sampler);
    also the sampler's mean read cost (us) and its number of reads."""

    async def main() -> tuple[float, float, int]:
        sampler = Sampler(0.1) if with_sampler else None
        c0 = time.process_time()
        if sampler is not None:
            sampler.start()
        await asyncio.sleep(seconds)
        if sampler is not None:
            await sampler.stop()
        used = time.process_time() - c0
        return used, (sampler.mean_cost_us() if sampler else 0.0), (sampler.reads if sampler else 0)

    return asyncio.run(main())


def bench_sampler(seconds: float, rounds: int) -> Result:
    _cpu_over(0.3, True)  # warm up psutil's imports and caches
    shares, costs, reads = [], [], []
    for r in range(rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        got = {flag: _cpu_over(seconds, flag) for flag in order}
        (cpu_with, cost, n), (cpu_without, _c, _n) = got[True], got[False]
        shares.append(max(0.0, cpu_with - cpu_without) / seconds * 100)
        costs.append(cost)
        reads.append(n)
    value = statistics.median(shares)
    detail = (f"10 Hz for {seconds:g} s x {rounds} rounds; {statistics.median(reads):.0f} reads/round, "
              f"{statistics.median(costs):.0f} us/read (connections once a second)")
    return Result("sampler_cpu_percent", value, "%", "<= 2", detail)


def run_all(quick: bool) -> list[Result]:
    gc.collect()
    return [bench_sampler(1.0 if quick else 4.0, 1 if quick else 5)]
