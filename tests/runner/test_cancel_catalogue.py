"""Cancellation at any moment releases every resource of the run: each catalogue entry is
cancelled mid-run (scale 1, so it is still busy) and the process's fds return to the baseline;
a correct variant also leaves no lifetime open."""

from __future__ import annotations

import asyncio
import os
import time

import psutil
import pytest
from pg_server import postgres_absent
from withscope.core.probes import gather_db_facts
from withscope.core.runner import Run, RunOptions
from withscope.core.sampler import Sampler
from withscope.core.targets import catalogue

NAMES = [w.name for w in catalogue()]
DSN = os.environ.get("WITHSCOPE_TEST_DB", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.mark.parametrize("db", [None, pytest.param(DSN, marks=pytest.mark.postgres)], ids=["sqlite", "postgresql"])
def test_cancel_every_catalogue_entry_mid_run_releases_everything(db: str | None) -> None:
    if db is not None:
        why = postgres_absent(db)
        if why is not None:
            pytest.skip(why)
    proc = psutil.Process()
    problems: list[str] = []
    statuses: list[str] = []

    async def main() -> None:
        sampler = Sampler()
        sampler.start()
        # warm up once (imports, sqlite, thread-local caches) so the baseline is the steady state
        await Run(NAMES[0], RunOptions(scale=0.2, db=db), sampler=sampler).start().wait()
        for name in NAMES:
            before = proc.num_fds()
            run = Run(name, RunOptions(scale=1.0, db=db), sampler=sampler).start()
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
            if db is not None:
                facts = await gather_db_facts(db, run.db.application_name, 0)
                if facts.backends or facts.error:
                    problems.append(f"{name}: backends left {facts.backends} {facts.error or ''}")
            if snap.status not in ("cancelled", "ok"):
                problems.append(f"{name}: status {snap.status}: {snap.error}")
        await sampler.stop()

    asyncio.run(main())
    assert problems == []
    # the point is cancelling while busy: nearly every entry must still have been running
    assert statuses.count("cancelled") >= len(NAMES) - 1, list(zip(NAMES, statuses, strict=True))
