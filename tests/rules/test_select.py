"""`final_candidates`: from a run's columns, the final rules get only the lifetimes they could
report on, and find exactly what they find from every lifetime (hypothesis, over generated
tables with every outcome, flag and kind a rule looks at)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from withscope.core.events import (
    CODE_BY_OUTCOME,
    FLAG_CLOSE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_OPEN,
    Outcome,
    Sample,
    StreamStats,
)
from withscope.core.lifetime_table import LifetimeTable
from withscope.core.rules import RuleConfig, RuleContext, evaluate
from withscope.core.rules.select import final_candidates
from withscope.core.snapshot import TableLifetimes

KINDS = ["file", "socket", "db.connection", "stream", "db.pool", "tempfile", "tempdir", "lock"]
MS = 1_000_000


@st.composite
def tables(draw: st.DrawFn) -> tuple[LifetimeTable, frozenset[str], tuple[StreamStats, ...]]:
    table = LifetimeTable()
    n = draw(st.integers(0, 30))
    existing: set[str] = set()
    streams: list[StreamStats] = []
    for lid in range(n):
        kind = draw(st.sampled_from(KINDS))
        label = f"/tmp/x{lid}" if kind in ("tempfile", "tempdir") else f"{kind}-{lid}"
        if kind in ("tempfile", "tempdir") and draw(st.booleans()):
            existing.add(label)
        at = draw(st.integers(0, 4000)) * MS
        table.fold_acquire((0, lid, at, (kind, label, None, False), None, 0, ("main",), None))
        outcome = draw(st.sampled_from(list(Outcome)))
        if outcome is not Outcome.OPEN:
            table.released_ns[lid] = at + draw(st.integers(0, 4000)) * MS
            table.outcome[lid] = CODE_BY_OUTCOME[outcome]
            table.flags[lid] = draw(st.sampled_from([0, FLAG_SUPPRESSED, FLAG_SUPPRESSED | FLAG_DECLARED, FLAG_CLOSE]))
            if outcome in (Outcome.RELEASED_WITH_ERROR, Outcome.EXIT_RAISED):
                table.errors[lid] = ("ValueError: x", "builtins.ValueError")
        if kind == "stream":
            pts = tuple((at + i * 10 * MS, i * 8, i * i * 100) for i in range(draw(st.integers(0, 12))))
            streams.append(StreamStats(lid, label, at, at, at + 200 * MS, True, len(pts) * 8, 1000, pts))
    # A dropped acquire in the middle (a row never seen) and spare capacity at the end.
    if n and draw(st.booleans()):
        table.grow(n + 3)
        table.fold_acquire((0, n + 1, 5 * MS, ("file", "after-gap", None, False), None, 0, ("main",), None))
    return table, frozenset(existing), tuple(streams)


@settings(max_examples=150, deadline=None)
@given(tables(), st.sampled_from([0.5, 2.0]))
def test_final_rules_find_the_same_alerts_from_the_candidates_as_from_every_lifetime(
    made: tuple[LifetimeTable, frozenset[str], tuple[StreamStats, ...]], late_s: float
) -> None:
    table, existing, streams = made
    view = TableLifetimes(table)
    config = RuleConfig(late_release_s=late_s)
    now = 9000 * MS
    samples = (Sample(1, 100, 3, 1, 0, 0.0),)

    def run(lifetimes: object) -> list[object]:
        ctx = RuleContext(lifetimes=lifetimes, streams=streams, samples=samples, now_ns=now, final=True,  # type: ignore[arg-type]
                          config=config, existing_paths=existing)
        return sorted(evaluate(ctx), key=repr)

    everything = list(view)
    picked = final_candidates(view, config, now)
    assert run(picked) == run(everything)
    assert {lt.id for lt in picked} <= {lt.id for lt in everything}


def test_candidates_leave_out_the_lifetimes_no_rule_reports() -> None:
    # GIVEN 1000 short, cleanly released lifetimes and one left open
    table = LifetimeTable()
    for lid in range(1000):
        table.fold_acquire((0, lid, lid * MS, ("file", f"f{lid}", None, False), None, 0, ("main",), None))
        if lid != 500:
            table.released_ns[lid] = lid * MS + MS
            table.outcome[lid] = CODE_BY_OUTCOME[Outcome.RELEASED]
    # WHEN the candidates are picked THEN only the open one is built
    picked = final_candidates(TableLifetimes(table), RuleConfig(), 2000 * MS)
    assert [lt.id for lt in picked] == [500]
    assert table.outcome[500] == OUT_OPEN


def test_a_frozen_view_does_not_see_later_releases() -> None:
    table = LifetimeTable()
    table.fold_acquire((0, 0, MS, ("file", "f", None, False), None, 0, ("main",), None))
    view = TableLifetimes(table)
    table.released_ns[0] = 2 * MS
    table.outcome[0] = CODE_BY_OUTCOME[Outcome.RELEASED]
    assert view[0].outcome is Outcome.OPEN
    assert view[0].released_ns is None
    assert len(view) == 1
    assert view == [view[0]]
    assert TableLifetimes(table)[0].released_ns == 2 * MS
