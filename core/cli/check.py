"""`withscope check`: run every catalogue entry and compare the rules it triggered with the
rules it declares (on SQLite, or on PostgreSQL with --db / $WITHSCOPE_DB). Exit 1 on a mismatch."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from withscope.core.cli import UsageError, positive_float, positive_int, shown
from withscope.core.context import DatabaseConfig
from withscope.core.redact import redact_dsn, redact_optional, redact_text, register_dsn
from withscope.core.runner import DB_ENV, Run, RunOptions
from withscope.core.sampler import Sampler
from withscope.core.targets import catalogue
from withscope.core.workloads.base import Workload

GROWTH_RULES = frozenset({"fd-growth", "connection-growth", "thread-growth", "memory-growth"})
# Rules judged from timings: a machine busy with something else can blur one run of them, so
# `check` runs an entry whose result differs in these rules once more (and says so).
TIMING_RULES = frozenset({"throughput-decay", "late-release"})


@dataclass(slots=True)
class CheckRow:
    """One catalogue entry checked: what it declares, what it triggered."""

    name: str
    expected: frozenset[str]
    actual: frozenset[str]
    status: str
    error: str | None = None
    repeat: int = 1
    duration_s: float = 0.0
    messages: list[str] = field(default_factory=list)
    attempts: int = 1  # 2: the first run differed only in timing rules and was run again

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.name,
            "expected": sorted(self.expected),
            "actual": sorted(self.actual),
            "result": "OK" if self.ok else "MISMATCH",
            "status": self.status,
            "error": self.error,
            "repeat": self.repeat,
            "duration_s": round(self.duration_s, 3),
            "attempts": self.attempts,
        }


def repeats_for(w: Workload, entries: list[Workload], default: int) -> int:
    """Growth rules need 3 repeats: every variant of a pattern that expects one runs 3 times."""
    siblings = [x for x in entries if x.pattern == w.pattern]
    if any((x.expected_rules | x.postgres_rules) & GROWTH_RULES for x in siblings):
        return max(default, 3)
    return default


async def check_catalogue(
    dsn: str | None = None,
    *,
    scale: float = 0.2,
    repeat: int = 1,
    names: list[str] | None = None,
    on_row: Callable[[CheckRow], None] | None = None,
    timeout_s: float = 60.0,
) -> list[CheckRow]:
    """Run catalogue entries one after the other (OS-level rules are process-wide, so runs in
    parallel would blur each other) and compare the rules each triggered with its declaration."""
    entries = catalogue()
    if names is not None:
        entries = [w for w in entries if w.name in names]
    db = DatabaseConfig(dsn=dsn)
    sampler = Sampler()
    sampler.start()
    rows: list[CheckRow] = []
    try:
        for w in entries:
            n = repeats_for(w, entries, repeat)
            options = RunOptions(repeat=n, scale=scale, db=dsn, timeout_s=timeout_s)
            expected = w.expected_for(db)
            attempts = 0
            while True:
                attempts += 1
                snap = await Run(w.name, options, sampler=sampler).start().wait()
                actual = frozenset(a.rule for a in snap.alerts)
                if attempts == 2 or actual == expected or not (actual ^ expected) <= TIMING_RULES:
                    break
            row = CheckRow(
                name=w.name,
                expected=expected,
                actual=actual,
                status=snap.status,
                error=redact_optional(snap.error),
                repeat=n,
                duration_s=snap.duration_s,
                messages=[redact_text(f"{a.rule}: {a.message}") for a in snap.alerts],
                attempts=attempts,
            )
            rows.append(row)
            if on_row is not None:
                on_row(row)
    finally:
        await sampler.stop()
    return rows


def setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, metavar="DSN", help=f"PostgreSQL DSN (default ${DB_ENV}, else SQLite)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--scale", type=positive_float, default=0.2, metavar="F", help="workload size (default 0.2)")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N", help="repeats per entry (default 1)")
    p.add_argument("--verbose", action="store_true", help="print every alert message")


async def server_answers(dsn: str) -> str | None:
    """None when PostgreSQL answers at `dsn`, else why not (one line)."""
    try:
        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return None


def handler(args: argparse.Namespace) -> int:
    dsn = args.db if args.db is not None else (os.environ.get(DB_ENV) or None)
    register_dsn(dsn)  # the driver's errors below may echo it in any shape
    if dsn is not None:
        if not DatabaseConfig(dsn).is_postgres:
            raise UsageError(f"--db wants a postgresql:// DSN, got {redact_dsn(dsn)!r}")
        why = asyncio.run(server_answers(dsn))
        if why is not None:
            raise UsageError(f"PostgreSQL does not answer at {redact_dsn(dsn)}: {why}")
    if not catalogue():
        raise UsageError("the catalogue is empty: nothing to check")

    def fmt(rules: frozenset[str]) -> str:
        return ", ".join(sorted(rules)) or "-"

    names = [w.name for w in catalogue()]
    width = max(len(n) for n in names)
    exp_w = max(24, *(len(fmt(w.expected_for(DatabaseConfig(dsn)))) for w in catalogue()))

    def show(row: CheckRow) -> None:
        if args.json:
            return
        result = "OK" if row.ok else "MISMATCH"
        extra = f"  [{row.status}: {row.error}]" if row.status == "error" and row.error else ""
        if row.attempts > 1:
            extra += "  (second run: the first one's timings were off)"
        extra = shown(extra)
        print(f"{row.name:<{width}}  {fmt(row.expected):<{exp_w}}  {fmt(row.actual):<{exp_w}}  {result}{extra}")
        if args.verbose or not row.ok:
            for m in row.messages:
                print(f"{'':<{width}}    {shown(m)}")
        sys.stdout.flush()

    if not args.json:
        where = redact_dsn(dsn) if dsn else "sqlite"
        print(f"withscope check: {len(names)} workloads, db {where}, scale {args.scale:g}")
        print(f"{'workload':<{width}}  {'expected rules':<{exp_w}}  {'actual rules':<{exp_w}}  result")
    rows = asyncio.run(check_catalogue(dsn, scale=args.scale, repeat=args.repeat, on_row=show))
    bad = [r for r in rows if not r.ok]
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(f"\n{len(rows) - len(bad)}/{len(rows)} OK" + (f", {len(bad)} MISMATCH" if bad else ""))
    return 1 if bad else 0
