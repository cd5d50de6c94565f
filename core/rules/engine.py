"""`AlertEngine`: runs the rules incrementally and hands out each alert once.

Live updates (`final=False`, e.g. every 100 ms while a workload runs) evaluate the live rules
(gc-release, exit-raised, suppressed-exception, late-release, throughput-decay on ended
streams); the final update evaluates every rule. An alert is new when its key was never seen:
(rule, lifetime id) for alerts about a lifetime, else (rule, message).

Thread-safety: one engine belongs to one run and is called from one thread at a time (the
runner calls it on the event loop). A rule that raises is logged and skipped for that update;
it never breaks the run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from withscope.core.events import Alert
from withscope.core.redact import redact_record

from . import exceptions, lifecycle, os_growth, postgres, tempfiles, throughput
from .base import RuleConfig, RuleContext, RuleSpec

log = logging.getLogger("withscope")

RULES: tuple[RuleSpec, ...] = (
    RuleSpec("unreleased", lifecycle.unreleased, False, True, "still open when the workload ended"),
    RuleSpec("gc-release", lifecycle.gc_release, True, True, "released only by the garbage collector"),
    RuleSpec("late-release", lifecycle.late_release, True, True, "held longer than the threshold"),
    RuleSpec("throughput-decay", throughput.throughput_decay, True, True, "per-chunk cost grows with data so far"),
    RuleSpec(
        "suppressed-exception",
        exceptions.suppressed_exception,
        True,
        True,
        "an exit swallowed an exception it does not declare",
    ),
    RuleSpec("exit-raised", exceptions.exit_raised, True, True, "cleanup itself raised"),
    RuleSpec("fd-growth", os_growth.fd_growth, False, True, "open fds grow across repeats"),
    RuleSpec("connection-growth", os_growth.connection_growth, False, True, "connections grow across repeats"),
    RuleSpec("thread-growth", os_growth.thread_growth, False, True, "threads grow across repeats"),
    RuleSpec("memory-growth", os_growth.memory_growth, False, True, "RSS grows steadily across repeats"),
    RuleSpec("temp-file-left", tempfiles.temp_file_left, False, True, "temporary files still on disk"),
    RuleSpec("db-backend-leak", postgres.db_backend_leak, False, True, "PostgreSQL backends still connected"),
)
RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)


def alert_key(a: Alert) -> tuple[str, object]:
    return (a.rule, a.lifetime_id) if a.lifetime_id is not None else (a.rule, a.message)


def evaluate(ctx: RuleContext, rules: Iterable[RuleSpec] = RULES) -> list[Alert]:
    """Every alert the rules of this phase find (no dedupe): the pure, one-shot form."""
    out: list[Alert] = []
    for spec in rules:
        if spec.name in ctx.config.disabled or not (spec.final if ctx.final else spec.live):
            continue
        try:
            out.extend(map(redact_record, spec.func(ctx)))  # messages quote labels and errors
        except Exception:
            log.exception("withscope: rule %s failed; skipped", spec.name)
    return out


class AlertEngine:
    """Incremental rule evaluation with dedupe. `alerts` lists every alert so far, oldest first."""

    def __init__(self, config: RuleConfig | None = None, rules: Iterable[RuleSpec] = RULES) -> None:
        self.config = config or RuleConfig()
        self.rules = tuple(rules)
        self.alerts: list[Alert] = []
        self._seen: set[tuple[str, object]] = set()

    def update(self, ctx: RuleContext, final: bool | None = None) -> list[Alert]:
        """Evaluate `ctx` (with `final` overriding `ctx.final` when given, and the engine's config
        replacing `ctx.config`); return only the alerts not returned before."""
        if (final is not None and final != ctx.final) or ctx.config is not self.config:
            ctx = dataclasses.replace(ctx, final=ctx.final if final is None else final, config=self.config)
        new: list[Alert] = []
        for a in evaluate(ctx, self.rules):
            key = alert_key(a)
            if key in self._seen:
                continue
            self._seen.add(key)
            new.append(a)
        self.alerts.extend(new)
        return new

    def rules_fired(self) -> frozenset[str]:
        return frozenset(a.rule for a in self.alerts)
