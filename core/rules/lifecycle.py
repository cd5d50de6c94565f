"""Lifecycle rules: a resource never released, released only by the GC, or held too long.

- `unreleased` (final): still open when the workload ended.
- `gc-release` (live): its only release was the garbage collector's (outcome `gc`).
- `late-release` (live): held longer than `RuleConfig.late_release_s`, judged against `now_ns`
  while open (so it appears while the workload runs) or on its duration once released.
"""

from __future__ import annotations

from withscope.core.events import Alert, Outcome, Severity

from .base import RuleContext, alert, describe, hint_for, seconds, words

_CRITICAL_KINDS = frozenset({"db.connection", "pool.checkout", "db.transaction", "socket", "db.pool"})


def unreleased(ctx: RuleContext) -> list[Alert]:
    out: list[Alert] = []
    for lt in ctx.lifetimes:
        if lt.outcome is not Outcome.OPEN:
            continue
        sev = Severity.CRITICAL if lt.kind in _CRITICAL_KINDS else Severity.WARNING
        release = words(lt.kind)[1]
        msg = f"{describe(lt)} was never {release} (still open when the run ended)"
        out.append(alert("unreleased", sev, msg, hint_for(lt), lt, ctx.now_ns))
    return out


def gc_release(ctx: RuleContext) -> list[Alert]:
    out: list[Alert] = []
    for lt in ctx.lifetimes:
        if lt.outcome is not Outcome.GC:
            continue
        release = words(lt.kind)[1]
        msg = (
            f"{describe(lt)} was never {release} by the code: the garbage collector released it "
            f"after {seconds(lt.duration_ns(ctx.now_ns))}"
        )
        out.append(alert("gc-release", Severity.WARNING, msg, hint_for(lt), lt, lt.released_ns))
    return out


def late_release(ctx: RuleContext) -> list[Alert]:
    cfg = ctx.config
    limit_ns = int(cfg.late_release_s * 1e9)
    out: list[Alert] = []
    for lt in ctx.lifetimes:
        if lt.kind in cfg.late_release_exclude or lt.outcome is Outcome.GC:
            continue  # a GC release has its own rule
        held = lt.duration_ns(ctx.now_ns)
        if held <= limit_ns:
            continue
        if lt.is_open:
            msg = f"{describe(lt)} has been held for {seconds(held)} (threshold {cfg.late_release_s:g} s)"
        else:
            msg = f"{describe(lt)} was held for {seconds(held)} (threshold {cfg.late_release_s:g} s)"
        hint = (
            f"release it as soon as the work is done: keep the `with` block around only the code that needs "
            f"the {lt.kind}"
        )
        out.append(alert("late-release", Severity.INFO, msg, hint, lt, lt.acquired_ns + limit_ns))
    return out
