"""Recording at scale, the path users take: `withscope run --record r.db blocks.py N`.

`recording_drops_10m`: events lost while a script makes 10 M tracked blocks as fast as one
thread can, run in its own process by the CLI with a recording (must be 0; quick mode: 200,000
blocks). Lost = the events the run reports dropped plus the lifetimes missing from the file. The
detail gives the whole command's wall time, the blocks/s the program ran at under back-pressure,
the peak RSS of the parent (withscope) and of the child (the program and its agent), and the
longest hold of an empty block in the file (back-pressure must not fall inside a lifetime; what
remains is the observed thread losing the GIL or its CPU inside a block).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from common import Result

# The parent: the CLI, reporting its own peak RSS (children excluded) when it ends.
_PARENT = textwrap.dedent("""
    import resource, sys
    from withscope.core.cli import main
    try:
        code = main(sys.argv[2:])
    finally:
        with open(sys.argv[1], "w") as f:
            f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    sys.exit(code)
""")

# The program: empty tracked blocks as fast as it can; it reports its own run time and peak RSS.
_BLOCKS = textwrap.dedent("""
    import resource, sys, time
    from withscope.core.track import track

    class CM:
        __slots__ = ()
        def __enter__(self): return self
        def __exit__(self, *exc): return None

    n = int(sys.argv[1])
    t0 = time.perf_counter()
    for _ in range(n):
        with track(CM()):
            pass
    elapsed = time.perf_counter() - t0
    with open(sys.argv[2], "w") as f:
        f.write(f"{elapsed} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
""")


def bench_recording_drops(n: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="withscope-bench-") as tmp:
        d = Path(tmp)
        (d / "blocks.py").write_text(_BLOCKS)
        db, parent_rss, child_out = d / "scale.db", d / "parent.rss", d / "child.out"
        cmd = [sys.executable, "-c", _PARENT, str(parent_rss), "run", "--quiet", "--record", str(db),
               "blocks.py", str(n), str(child_out)]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"withscope run failed ({proc.returncode}): {proc.stderr[-2000:]}")
        workload_s, child_kb = child_out.read_text().split()
        parent_mb = int(parent_rss.read_text()) / 1024
        conn = sqlite3.connect(db)
        count, longest = conn.execute("SELECT count(*), max(released_ns - acquired_ns) FROM lifetimes").fetchone()
        (dropped,) = conn.execute("SELECT value FROM meta WHERE key = 'dropped_events'").fetchone()
        conn.close()
    rate = n / float(workload_s)
    child_mb = int(child_kb) / 1024
    detail = (f"{n:,} blocks in a child (withscope run --record), {count:,} lifetimes in the file, "
              f"{int(dropped):,} dropped; {wall:.1f} s wall for the whole command, the program ran at "
              f"{rate:,.0f} blocks/s under back-pressure; peak RSS parent {parent_mb:.0f} MB, child "
              f"{child_mb:.0f} MB; longest hold of an empty block {longest / 1e6:.1f} ms")  # fmt: skip
    extra = {"lifetimes": float(count), "wall_s": wall, "blocks_per_s": rate, "parent_rss_mb": parent_mb,
             "child_rss_mb": child_mb, "longest_hold_ms": longest / 1e6}  # fmt: skip
    return Result("recording_drops_10m", float(int(dropped) + (n - count)), "events", "<= 0", detail, extra)


def run_all(quick: bool) -> list[Result]:
    return [bench_recording_drops(200_000 if quick else 10_000_000)]
