#!/usr/bin/env python3
"""withscope benchmark suite.

    python benchmarks/run.py [--quick] [--json FILE] [--only KEY,...]

Prints a table; with --json writes {key: value, ...} plus details. --quick uses small sizes
(CI runs it so the suite cannot rot; it asserts no times). Exit code 0 even when a target is
missed; the table says which.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Result, print_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few rounds (for CI)")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--only", metavar="KEYS",
                    help="comma-separated groups: core,recording,sampler,child,auto,gui,memory")  # fmt: skip
    args = ap.parse_args()
    groups = set((args.only or "core,recording,sampler,child,auto,gui,memory").split(","))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results: list[Result] = []
    t0 = time.time()
    if "core" in groups:
        import bench_core

        results += bench_core.run_all(args.quick)
    if "recording" in groups:
        import bench_recording  # quick mode: 200,000 blocks instead of 10 M (the row's detail says)

        results += bench_recording.run_all(args.quick)
    if "sampler" in groups and (Path(__file__).parent / "bench_sampler.py").exists():
        import bench_sampler

        results += bench_sampler.run_all(args.quick)
    if "child" in groups:
        import bench_child  # withscope run in a child process: start-up and the event stream

        results += bench_child.run_all(args.quick)
    if "auto" in groups:
        import bench_auto  # automatic instrumentation: open/close and socket create/close vs bare

        results += bench_auto.run_all(args.quick)
    if "gui" in groups and (Path(__file__).parent / "bench_gui.py").exists():
        import bench_gui

        results += bench_gui.run_all(args.quick)
    if "memory" in groups:
        import bench_memory  # post-run peak of a long run; the app's RSS on a 5-minute live run

        results += bench_memory.run_all(args.quick)
    print_table(results, args.quick)
    from withscope.core._accel import HOT_PATH

    print(f"\nhot path: {HOT_PATH} ({'the C accelerator' if HOT_PATH == 'C' else 'pure Python'}); "
          f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"{platform.machine()}, {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s"
          + (" (quick mode: sizes too small for the targets, so the ok column is not judged)" if args.quick else ""))
    if args.json:
        data = {r.key: r.value for r in results}
        data["_details"] = {r.key: {"target": r.target, "ok": r.ok, "detail": r.detail} for r in results}
        data["_machine"] = {"python": platform.python_version(), "cores": os.cpu_count(), "quick": args.quick,
                            "hot_path": HOT_PATH}
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
