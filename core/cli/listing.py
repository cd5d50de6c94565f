"""`withscope list [--json]`: the workload catalogue, grouped by pattern, with the rules each
entry is declared to trigger."""

from __future__ import annotations

import argparse
import json
from typing import Any

from withscope.core.targets import catalogue
from withscope.core.workloads.base import Workload


def setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the catalogue as JSON")


def workload_dict(w: Workload) -> dict[str, Any]:
    return {
        "name": w.name,
        "pattern": w.pattern,
        "pattern_title": w.pattern_title,
        "variant": w.variant,
        "title": w.title,
        "expected_rules": sorted(w.expected_rules),
        "postgres_rules": sorted(w.postgres_rules),
        "blocking": w.blocking,
        "uses_db": w.uses_db,
        "narration": w.narration,
    }


def handler(args: argparse.Namespace) -> int:
    entries = catalogue()
    if args.json:
        print(json.dumps([workload_dict(w) for w in entries], indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print("The catalogue is empty.")
        return 0
    width = max(len(w.name) for w in entries)
    pattern = None
    for w in entries:
        if w.pattern != pattern:
            pattern = w.pattern
            print(f"\n{w.pattern_title}")
        rules = ", ".join(sorted(w.expected_rules)) or "-"
        if w.postgres_rules:
            rules += f" (+ {', '.join(sorted(w.postgres_rules))} on PostgreSQL)"
        print(f"  {w.name:<{width}}  {w.title}")
        print(f"  {'':<{width}}  expects: {rules}")
    print("\nRun one with `withscope run NAME`; check them all with `withscope check`.")
    return 0
