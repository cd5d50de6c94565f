"""Invariants of the engine over arbitrary lifetimes (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rules_helpers import ctx, lt
from withscope.core import Lifetime, Outcome
from withscope.core.rules import AlertEngine, evaluate

KINDS = ["file", "socket", "db.connection", "pool.checkout", "stream", "db.pool", "lock"]


@st.composite
def lifetimes(draw: st.DrawFn) -> list[Lifetime]:
    n = draw(st.integers(0, 25))
    out = []
    for i in range(n):
        at = draw(st.integers(0, 5000))
        outcome = draw(st.sampled_from(list(Outcome)))
        until = None if outcome is Outcome.OPEN else at + draw(st.integers(0, 5000))
        suppressed = outcome is Outcome.RELEASED_WITH_ERROR and draw(st.booleans())
        out.append(
            lt(i, kind=draw(st.sampled_from(KINDS)), at_ms=at, until_ms=until, outcome=outcome,
               error="ValueError: x" if outcome in (Outcome.RELEASED_WITH_ERROR, Outcome.EXIT_RAISED) else None,
               error_type="builtins.ValueError" if outcome is Outcome.EXIT_RAISED else None,
               suppressed=suppressed, declared=suppressed and draw(st.booleans()))
        )
    return out


@settings(max_examples=60, deadline=None)
@given(lifetimes(), st.integers(0, 12_000))
def test_final_alerts_match_the_outcomes_exactly(lts: list[Lifetime], now_ms: int) -> None:
    alerts = evaluate(ctx(*lts, now_ms=now_ms, final=True))
    by_rule: dict[str, set[int]] = {}
    for a in alerts:
        assert a.lifetime_id is not None
        by_rule.setdefault(a.rule, set()).add(a.lifetime_id)
    assert by_rule.get("unreleased", set()) == {x.id for x in lts if x.outcome is Outcome.OPEN}
    assert by_rule.get("gc-release", set()) == {x.id for x in lts if x.outcome is Outcome.GC}
    assert by_rule.get("exit-raised", set()) == {x.id for x in lts if x.outcome is Outcome.EXIT_RAISED}
    assert by_rule.get("suppressed-exception", set()) == {
        x.id for x in lts if x.suppressed and not x.suppression_declared
    }
    # a lifetime is never both unreleased and released by the GC
    assert not by_rule.get("unreleased", set()) & by_rule.get("gc-release", set())


@settings(max_examples=60, deadline=None)
@given(lifetimes(), st.lists(st.integers(0, 12_000), min_size=1, max_size=5))
def test_the_engine_returns_each_alert_once_however_often_it_runs(lts: list[Lifetime], times: list[int]) -> None:
    engine = AlertEngine()
    seen = []
    for t in sorted(times):
        seen += engine.update(ctx(*lts, now_ms=t))
    seen += engine.update(ctx(*lts, now_ms=max(times)), final=True)
    seen += engine.update(ctx(*lts, now_ms=max(times)), final=True)
    keys = [(a.rule, a.lifetime_id) for a in seen]
    assert len(keys) == len(set(keys))
    assert seen == engine.alerts
    # the incremental engine finds exactly what one final evaluation finds (late-release aside:
    # it depends on the time of each update)
    once = {(a.rule, a.lifetime_id) for a in evaluate(ctx(*lts, now_ms=max(times), final=True))}
    assert {k for k in keys if k[0] != "late-release"} == {k for k in once if k[0] != "late-release"}
