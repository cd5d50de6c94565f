"""unreleased / gc-release / late-release on hand-built lifetimes (GIVEN / WHEN / THEN)."""

from __future__ import annotations

from rules_helpers import ctx, lt
from withscope.core import Outcome, Severity
from withscope.core.rules import AlertEngine, RuleConfig
from withscope.core.rules.lifecycle import gc_release, late_release, unreleased


def test_unreleased_reports_the_open_file_not_the_one_released_in_the_same_window() -> None:
    # GIVEN a file closed within the run and one still open at the end
    closed = lt(0, label="/tmp/ok.txt", at_ms=1, until_ms=5)
    leaked = lt(1, label="/tmp/x.txt", at_ms=2, site="app.py:12")
    # WHEN the final rules run
    alerts = unreleased(ctx(closed, leaked, final=True))
    # THEN only the open one is reported, in words a person understands, with a fix
    assert [a.lifetime_id for a in alerts] == [1]
    (a,) = alerts
    assert a.rule == "unreleased"
    assert a.message.startswith("file /tmp/x.txt opened at app.py:12 was never closed")
    assert "with open" in a.hint
    assert a.site == "app.py:12"
    assert a.severity is Severity.WARNING


def test_unreleased_connections_are_critical_and_sqlite_gets_the_closing_hint() -> None:
    conn = lt(0, kind="db.connection", label="sqlite:/tmp/run/app.db")
    (a,) = unreleased(ctx(conn, final=True))
    assert a.severity is Severity.CRITICAL
    assert "contextlib.closing" in a.hint


def test_unreleased_pool_checkout_says_return_it_to_the_pool() -> None:
    (a,) = unreleased(ctx(lt(0, kind="pool.checkout", label="PoolAcquireContext"), final=True))
    assert "was never returned to the pool" in a.message
    assert "return the connection to the pool" in a.hint


def test_unreleased_is_a_final_rule_only() -> None:
    engine = AlertEngine()
    leaked = lt(0)
    assert engine.update(ctx(leaked), final=False) == []
    assert [a.rule for a in engine.update(ctx(leaked), final=True)] == ["unreleased"]


def test_gc_release_reports_the_collected_one_not_the_closed_one() -> None:
    # GIVEN one socket closed by the code and one released by the garbage collector
    closed = lt(0, kind="socket", label="127.0.0.1:80", at_ms=0, until_ms=3)
    collected = lt(1, kind="socket", label="127.0.0.1:81", at_ms=0, until_ms=40, outcome=Outcome.GC)
    # WHEN a live update runs
    alerts = gc_release(ctx(closed, collected))
    # THEN the GC release is reported with when it happened
    assert [a.lifetime_id for a in alerts] == [1]
    assert "garbage collector released it after 40 ms" in alerts[0].message
    assert alerts[0].t_ns == 40_000_000
    assert "contextlib.closing" in alerts[0].hint


def test_late_release_uses_now_for_open_lifetimes_and_the_configured_threshold() -> None:
    # GIVEN a connection open since t=0 and a file held 500 ms
    conn = lt(0, kind="db.connection", label="postgresql://h/db")
    quick = lt(1, at_ms=0, until_ms=500)
    # WHEN evaluated at 1.5 s and at 2.5 s against the default 2 s threshold
    assert late_release(ctx(conn, quick, now_ms=1500)) == []
    alerts = late_release(ctx(conn, quick, now_ms=2500))
    # THEN only the connection, once it passed the threshold
    assert [a.lifetime_id for a in alerts] == [0]
    assert "has been held for 2.5 s (threshold 2 s)" in alerts[0].message
    assert alerts[0].t_ns == 2_000_000_000
    # AND a lower threshold catches the short one too
    low = late_release(ctx(conn, quick, now_ms=2500, config=RuleConfig(late_release_s=0.1)))
    assert [a.lifetime_id for a in low] == [0, 1]
    assert "was held for 500 ms" in low[1].message


def test_late_release_ignores_long_lived_kinds_and_gc_releases() -> None:
    pool = lt(0, kind="db.pool", label="pool")
    stream = lt(1, kind="stream", label="body")
    gc = lt(2, until_ms=9000, outcome=Outcome.GC)
    assert late_release(ctx(pool, stream, gc, now_ms=10_000)) == []


def test_engine_sequence_live_then_final_without_duplicates() -> None:
    engine = AlertEngine(RuleConfig(late_release_s=1.0))
    held = lt(0, kind="db.connection", label="postgresql://h/db", at_ms=0)
    collected = lt(1, at_ms=0, until_ms=100, outcome=Outcome.GC)
    # t=0.5 s: the GC release shows at once
    assert [a.rule for a in engine.update(ctx(held, collected, now_ms=500))] == ["gc-release"]
    # t=1.2 s: the connection is now held too long; the GC release is not repeated
    assert [a.rule for a in engine.update(ctx(held, collected, now_ms=1200))] == ["late-release"]
    assert engine.update(ctx(held, collected, now_ms=1300)) == []
    # final: only what is new
    assert [a.rule for a in engine.update(ctx(held, collected, now_ms=1400), final=True)] == ["unreleased"]
    assert [a.rule for a in engine.alerts] == ["gc-release", "late-release", "unreleased"]
    assert engine.rules_fired() == {"gc-release", "late-release", "unreleased"}


def test_disabled_rules_do_not_run() -> None:
    engine = AlertEngine(RuleConfig(disabled=frozenset({"unreleased"})))
    assert engine.update(ctx(lt(0), final=True)) == []


def test_a_rule_that_raises_is_skipped_and_the_others_still_run(caplog: object) -> None:
    from withscope.core.rules.base import RuleSpec
    from withscope.core.rules.engine import RULES

    def broken(_: object) -> list[object]:
        raise RuntimeError("rule bug")

    engine = AlertEngine(rules=(RuleSpec("broken", broken, True, True, ""), *RULES))  # type: ignore[arg-type]
    assert [a.rule for a in engine.update(ctx(lt(0), final=True))] == ["unreleased"]
