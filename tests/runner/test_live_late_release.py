"""Live late-release judges a lifetime open only if it was open when the drain began: a slow
drain (a large backlog, a slow subscriber) never makes a short lifetime look held."""

from __future__ import annotations

import asyncio
import time

from plain_cm import PlainCM
from withscope.core.recorder import Batch
from withscope.core.runner import Run, RunOptions
from withscope.core.targets import Target


def test_a_slow_drain_raises_no_false_late_release() -> None:
    from withscope.core.track import track

    # GIVEN a workload of short blocks (1 ms each) in a thread, and a drain that takes 0.3 s
    def work() -> None:
        end = time.monotonic() + 1.2
        while time.monotonic() < end:
            with track(PlainCM()):
                time.sleep(0.001)

    def slow(batch: Batch) -> None:
        if batch.events:
            time.sleep(0.3)

    run = Run(Target("short", work, is_async=False, takes_context=False),
              RunOptions(late_release_s=0.2, drain_interval_s=0.05, sample_interval_s=0.5))  # fmt: skip
    run.recorder.subscribe(slow)

    async def main() -> None:
        await run.start().wait()

    # WHEN it runs
    asyncio.run(main())
    # THEN no block is reported as held past the 0.2 s threshold: none was
    lifetimes = run.recorder.lifetimes()
    assert lifetimes
    assert max(lt.released_ns - lt.acquired_ns for lt in lifetimes if lt.released_ns is not None) < 200_000_000
    assert [a.message for a in run.alerts if a.rule == "late-release"] == []
