"""suppressed-exception / exit-raised: hand-built lifetimes, then the same through real track()."""

from __future__ import annotations

import asyncio

import pytest
from rules_helpers import ctx, lt
from withscope.core import Outcome, Recorder, track
from withscope.core.rules import AlertEngine, RuleContext
from withscope.core.rules.exceptions import exit_raised, suppressed_exception


def test_only_an_undeclared_suppression_alerts() -> None:
    # GIVEN a writer that swallowed a declared BrokenPipeError and one that swallowed a ValueError
    declared = lt(0, kind="context", label="writer", until_ms=5, outcome=Outcome.RELEASED_WITH_ERROR,
                  error="BrokenPipeError", suppressed=True, declared=True)
    undeclared = lt(1, kind="context", label="writer", until_ms=5, outcome=Outcome.RELEASED_WITH_ERROR,
                    error="ValueError: bad row", suppressed=True)
    propagated = lt(2, kind="context", label="writer", until_ms=5, outcome=Outcome.RELEASED_WITH_ERROR,
                    error="KeyError: 'x'")
    # WHEN the live rules run
    alerts = suppressed_exception(ctx(declared, undeclared, propagated))
    # THEN only the undeclared one, naming the lost error
    assert [a.lifetime_id for a in alerts] == [1]
    assert "swallowed ValueError: bad row" in alerts[0].message
    assert "contextlib.suppress" in alerts[0].hint


def test_exit_raised_but_not_for_cancellation() -> None:
    failed = lt(0, kind="db.connection", label="db", until_ms=3, outcome=Outcome.EXIT_RAISED,
                error="OSError: disk full", error_type="builtins.OSError")
    cancelled = lt(1, kind="db.transaction", label="tx", until_ms=3, outcome=Outcome.EXIT_RAISED,
                   error="CancelledError", error_type="asyncio.exceptions.CancelledError")
    alerts = exit_raised(ctx(failed, cancelled))
    assert [a.lifetime_id for a in alerts] == [0]
    assert "raised OSError: disk full" in alerts[0].message
    assert alerts[0].severity.value == "critical"


class SwallowAll:
    def __enter__(self) -> SwallowAll:
        return self

    def __exit__(self, *exc: object) -> bool:
        return True


class BrokenExit:
    def __enter__(self) -> BrokenExit:
        return self

    def __exit__(self, *exc: object) -> None:
        raise OSError("flush failed")


def _live(rec: Recorder) -> list[str]:
    return [a.rule for a in AlertEngine().update(RuleContext(lifetimes=rec.lifetimes()))]


def test_real_managers_swallowing_and_failing_are_caught() -> None:
    with Recorder() as rec:
        with track(SwallowAll()):
            raise ValueError("lost")
        with track(SwallowAll(), suppresses=(ValueError,)):
            raise ValueError("expected")
        with pytest.raises(OSError, match="flush failed"), track(BrokenExit()):
            pass
    assert _live(rec) == ["suppressed-exception", "exit-raised"]


def test_cancelled_error_raised_by_an_async_exit_is_not_a_cleanup_failure() -> None:
    class CancelInExit:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *exc: object) -> None:
            raise asyncio.CancelledError

    async def main() -> None:
        async with track(CancelInExit()):
            pass

    with Recorder() as rec, pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    (life,) = rec.lifetimes()
    assert life.outcome is Outcome.EXIT_RAISED
    assert _live(rec) == []
