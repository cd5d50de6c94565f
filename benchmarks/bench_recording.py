"""Recording at scale: tracked blocks as fast as a thread makes them, in a recorded `Run`.

`recording_drops_10m`: events dropped while 10 M tracked blocks run with a recording attached
(must be 0; quick mode: 200,000 blocks). The detail gives the lifetimes found in the file, the
longest hold of an empty block, the producer's rate under back-pressure and the peak RSS.
"""

from __future__ import annotations

import asyncio
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from common import Result


class _CM:
    __slots__ = ()

    def __enter__(self) -> _CM:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def bench_recording_drops(n: int) -> Result:
    from withscope.core.runner import Run, RunOptions
    from withscope.core.store import record_run
    from withscope.core.targets import Target
    from withscope.core.track import track

    def blocks() -> None:
        for _ in range(n):
            with track(_CM()):
                pass

    with tempfile.TemporaryDirectory(prefix="withscope-bench-") as tmp:
        path = Path(tmp) / "scale.db"

        async def main() -> tuple[int, float]:
            run = Run(Target("blocks", blocks, is_async=False, takes_context=False), RunOptions())
            writer = record_run(run, path)
            t0 = time.perf_counter()
            snap = await run.start().wait()
            elapsed = time.perf_counter() - t0
            await writer.afinish_with(snap)
            return snap.dropped_events, elapsed

        dropped, elapsed = asyncio.run(main())
        conn = sqlite3.connect(path)
        count, longest = conn.execute("SELECT count(*), max(released_ns - acquired_ns) FROM lifetimes").fetchone()
        conn.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    detail = (f"{n:,} blocks, {count:,} lifetimes in the file, longest hold {longest / 1e6:.0f} ms, "
              f"{n / elapsed:,.0f} blocks/s under back-pressure, peak RSS {rss_mb:.0f} MB")  # fmt: skip
    extra = {"lifetimes": float(count), "longest_hold_ms": longest / 1e6, "blocks_per_s": n / elapsed}
    return Result("recording_drops_10m", float(dropped + (n - count)), "events", "<= 0", detail, extra)


def run_all(quick: bool) -> list[Result]:
    return [bench_recording_drops(200_000 if quick else 10_000_000)]
