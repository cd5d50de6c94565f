"""A tiny stand-in for the runner: run one catalogue workload under a Recorder and collect its evidence.

Order matters and mirrors what the runner must do: the workload returns, the evidence (what the
end-of-run rules read) is gathered, and only then `ctx.leftovers.close_all()` releases what a
faulty variant leaked, and the garbage collector runs.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from withscope.core import Lifetime, Outcome, Recorder, StreamStats
from withscope.core.context import DatabaseConfig, WorkloadContext
from withscope.core.workloads import Workload

_PROC = psutil.Process()
SCALE = 0.2  # what the catalogue proof uses
RunFn = Callable[[str], "Evidence"]
PG_DSN = os.environ.get("WITHSCOPE_TEST_DB", "postgresql://postgres@127.0.0.1:5432/test")
LATE_S = 2.0


@dataclass
class Evidence:
    workload: Workload
    lifetimes: list[Lifetime]
    streams: list[StreamStats]
    temp_left: list[str]  # tempfile/tempdir labels still on disk at the end
    backends: list[tuple[int, str]]  # (pid, state) of this run's PostgreSQL backends at the end
    duration_s: float
    marks: list[str] = field(default_factory=list)
    fds_start: int = 0  # open fds of the process when the workload started (its event loop exists)
    fds_end: int = 0  # ... when the workload returned
    fds_before: int = 0  # ... before the run's event loop existed
    fds_after: int = 0  # ... after cleanup, the loop closed and a gc pass
    cleanup_errors: list[str] = field(default_factory=list)
    backends_after_cleanup: list[tuple[int, str]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Lifetime]:
        return [lt for lt in self.lifetimes if lt.kind == kind]

    @property
    def open(self) -> list[Lifetime]:
        return [lt for lt in self.lifetimes if lt.outcome is Outcome.OPEN]

    @property
    def collected(self) -> list[Lifetime]:
        return [lt for lt in self.lifetimes if lt.outcome is Outcome.GC]

    def rules(self) -> set[str]:
        """A rough local reading of the leak rules (the real ones live in core/rules)."""
        found: set[str] = set()
        end = max([lt.released_ns or 0 for lt in self.lifetimes] + [time.perf_counter_ns()])
        for lt in self.lifetimes:
            if lt.outcome is Outcome.OPEN:
                found.add("unreleased")
            if lt.outcome is Outcome.GC:
                found.add("gc-release")
            if lt.outcome is Outcome.EXIT_RAISED and not (lt.error_type or "").endswith("CancelledError"):
                found.add("exit-raised")
            if lt.suppressed and not lt.suppression_declared:
                found.add("suppressed-exception")
            if (
                lt.kind not in ("stream", "db.pool")
                and lt.outcome is not Outcome.OPEN
                and lt.duration_ns(end) > LATE_S * 1e9
            ):
                found.add("late-release")
        if self.temp_left:
            found.add("temp-file-left")
        if self.backends:
            found.add("db-backend-leak")
        if any(decays(s) for s in self.streams):
            found.add("throughput-decay")
        return found


def quarter_costs(s: StreamStats) -> tuple[float, float, float, float] | None:
    """Mean ns per chunk in each quarter of the series (after the first post)."""
    pts = [(c, t) for t, c, _ in s.series]
    if len(pts) < 5 or pts[-1][0] - pts[0][0] < 16:
        return None
    c0, c1 = pts[0][0], pts[-1][0]
    q = (c1 - c0) / 4

    def t_at(chunk: float) -> float:
        for (ca, ta), (cb, tb) in itertools.pairwise(pts):
            if ca <= chunk <= cb:
                return ta + (tb - ta) * (chunk - ca) / (cb - ca) if cb > ca else float(tb)
        return float(pts[-1][1])

    ts = [t_at(c0 + i * q) for i in range(5)]
    a, b, c, d = ((ts[i + 1] - ts[i]) / q for i in range(4))
    return a, b, c, d


def decays(s: StreamStats) -> bool:
    q = quarter_costs(s)
    return q is not None and q[0] > 0 and q[3] / q[0] >= 2.5 and q[2] >= 1.5 * q[0]


async def pg_backends(application_name: str) -> list[tuple[int, str]]:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5, server_settings={"application_name": "withscope-test-probe"})
    try:
        rows = await conn.fetch(
            "SELECT pid, coalesce(state, '') FROM pg_stat_activity WHERE application_name = $1", application_name
        )
    finally:
        await conn.close()
    return [(int(r[0]), str(r[1])) for r in rows]


async def pg_scratch_tables() -> set[str]:
    """The workloads' scratch tables (`withscope_*`) that exist in the test database now."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5, server_settings={"application_name": "withscope-test-probe"})
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE tablename LIKE 'withscope\\_%'")
    finally:
        await conn.close()
    return {str(r[0]) for r in rows}


async def settled_backends(application_name: str, settle_s: float = 0.3) -> list[tuple[int, str]]:
    """This run's backends, waiting up to `settle_s` for ones that are closing to disappear."""
    deadline = time.monotonic() + settle_s
    while True:
        rows = await pg_backends(application_name)
        if not rows or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.02)


def left_on_disk(lifetimes: list[Lifetime]) -> list[str]:
    return [
        lt.label
        for lt in lifetimes
        if lt.kind in ("tempfile", "tempdir") and os.path.isabs(lt.label) and os.path.lexists(lt.label)
    ]


def ctx_for_scale(scale: float = SCALE) -> WorkloadContext:
    """A context to ask a workload module how much it does at `scale` (never run with it)."""
    return WorkloadContext(tmpdir=Path("."), scale=scale)


def run(workload: Workload, tmp_path: Path, *, scale: float = SCALE, postgres: bool = False) -> Evidence:
    """Run `workload` the way the runner will and return what the end-of-run rules would read."""
    tmpdir = tmp_path / f"run-{uuid.uuid4().hex[:6]}"
    tmpdir.mkdir()
    app = f"withscope-test-{uuid.uuid4().hex[:8]}"
    db = DatabaseConfig(dsn=PG_DSN if postgres else None, application_name=app)

    async def main() -> Evidence:
        ctx = WorkloadContext(tmpdir=tmpdir, db=db, scale=scale)
        fds_start = _PROC.num_fds()
        with Recorder() as rec:
            t0 = time.perf_counter()
            try:
                if workload.blocking:
                    await asyncio.get_running_loop().run_in_executor(None, workload.func, ctx)
                else:
                    result: Any = workload.func(ctx)
                    await result
                duration = time.perf_counter() - t0
                lifetimes = rec.lifetimes()
                temp_left = left_on_disk(lifetimes)
                backends = await settled_backends(app) if postgres else []
                ev = Evidence(workload, lifetimes, rec.streams(), temp_left, backends, duration)
                ev.marks = [m.text for m in rec.marks()]
                ev.fds_start = fds_start
                ev.fds_end = _PROC.num_fds()
            finally:
                errors = await ctx.leftovers.close_all()
            ev.cleanup_errors = errors
            if postgres:
                ev.backends_after_cleanup = await settled_backends(app, settle_s=1.0)
        return ev

    gc.collect()
    fds_before = _PROC.num_fds()
    ev = asyncio.run(main())
    gc.collect()
    ev.fds_before = fds_before
    ev.fds_after = _PROC.num_fds()
    return ev
