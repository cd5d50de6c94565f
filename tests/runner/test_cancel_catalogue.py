"""Cancellation at any moment releases every resource of the run: each catalogue entry is
cancelled mid-run (scale 1, so it is still busy) and the process's fds return to the baseline;
a correct variant also leaves no lifetime open."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest
from withscope.core.runner import Run, RunOptions
from withscope.core.sampler import Sampler
from withscope.core.targets import catalogue

NAMES = [w.name for w in catalogue()]


@pytest.mark.skipif(not NAMES, reason="the workload catalogue is not installed")
def test_cancel_every_catalogue_entry_mid_run_releases_everything() -> None:
    proc = psutil.Process()
    problems: list[str] = []
    statuses: list[str] = []

    async def main() -> None:
        sampler = Sampler()
        sampler.start()
        # warm up once (imports, sqlite, thread-local caches) so the baseline is the steady state
        await Run(NAMES[0], RunOptions(scale=0.2), sampler=sampler).start().wait()
        for name in NAMES:
            before = proc.num_fds()
            run = Run(name, RunOptions(scale=1.0), sampler=sampler).start()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # until its first event is recorded
                if run.recorder.pending or run.recorder.table.count or run.done:
                    break
                await asyncio.sleep(0.002)
            run.cancel()
            snap = await run.wait()
            after = proc.num_fds()
            still_open = [lt for lt in snap.lifetimes if lt.is_open]
            if after != before:
                problems.append(f"{name}: fds {before} -> {after} ({snap.status})")
            if name.endswith("/correct") and still_open:
                problems.append(f"{name}: open after cancel: {[f'{lt.kind} {lt.site}' for lt in still_open]}")
            statuses.append(snap.status)
            if snap.status not in ("cancelled", "ok"):
                problems.append(f"{name}: status {snap.status}: {snap.error}")
        await sampler.stop()

    asyncio.run(main())
    assert problems == []
    # the point is cancelling while busy: nearly every entry must still have been running
    assert statuses.count("cancelled") >= len(NAMES) - 1, list(zip(NAMES, statuses, strict=True))
