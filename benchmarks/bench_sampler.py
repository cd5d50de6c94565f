"""CPU cost of the psutil `Sampler` (core/sampler.py) at 10 Hz, against psutil's cheapest read.

Each round runs an idle asyncio loop for `seconds` twice - once with a `Sampler(0.1)` started,
once without, in alternating order - and measures this process's CPU time (user + system) over
each: (cpu_with - cpu_without) / seconds is the sampler's CPU seconds per second. The baseline,
measured in the same round, is the CPU time of one bare `psutil.Process().memory_info()` call (a
read of /proc, the same kind of work the sampler does five of per sample, plus the connections
once a second) times the sample rate: both are system calls and parsing of the same files, so
they scale together with the machine. `sampler_cost_ratio` is the median over rounds of
sampler CPU / (10 Hz x bare read CPU); the absolute % of one core is in the detail.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time

import psutil
from common import Result
from withscope.core.sampler import Sampler

RATE_HZ = 10.0


def _cpu_over(seconds: float, with_sampler: bool) -> tuple[float, float, int]:
    """CPU seconds this process used while an idle loop ran `seconds` (with or without a sampler);
    also the sampler's mean read cost (us) and its number of reads."""

    async def main() -> tuple[float, float, int]:
        sampler = Sampler(1 / RATE_HZ) if with_sampler else None
        c0 = time.process_time()
        if sampler is not None:
            sampler.start()
        await asyncio.sleep(seconds)
        if sampler is not None:
            await sampler.stop()
        used = time.process_time() - c0
        return used, (sampler.mean_cost_us() if sampler else 0.0), (sampler.reads if sampler else 0)

    return asyncio.run(main())


def _bare_read_cpu(calls: int) -> float:
    """CPU seconds of one `psutil.Process().memory_info()` (a new Process each time, as a one-off
    reading would do)."""
    c0 = time.process_time()
    for _ in range(calls):
        psutil.Process().memory_info()
    return (time.process_time() - c0) / calls


def bench_sampler(seconds: float, rounds: int) -> Result:
    _cpu_over(0.3, True)  # warm up psutil's imports and caches
    _bare_read_cpu(200)
    ratios, shares, costs, reads, bares = [], [], [], [], []
    for r in range(rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        got = {flag: _cpu_over(seconds, flag) for flag in order}
        bare = _bare_read_cpu(2000)
        (cpu_with, cost, n), (cpu_without, _c, _n) = got[True], got[False]
        per_s = max(0.0, cpu_with - cpu_without) / seconds
        ratios.append(per_s / (RATE_HZ * bare))
        shares.append(per_s * 100)
        costs.append(cost)
        reads.append(n)
        bares.append(bare * 1e6)
    share = statistics.median(shares)
    detail = (f"10 Hz for {seconds:g} s x {rounds} rounds: {share:.2f} % of one core vs 10 x "
              f"{statistics.median(bares):.1f} us CPU of a bare memory_info(); "
              f"{statistics.median(reads):.0f} reads/round, {statistics.median(costs):.0f} us/read wall "
              f"(connections once a second)")
    return Result("sampler_cost_ratio", statistics.median(ratios), "x", "<= 80", detail,
                  {"cpu_percent": share, "bare_read_us": statistics.median(bares)})


def run_all(quick: bool) -> list[Result]:
    gc.collect()
    return [bench_sampler(1.0 if quick else 4.0, 1 if quick else 5)]
