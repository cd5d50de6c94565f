"""Exception rules: an exit that swallowed what it should not, and cleanup that itself failed.

- `suppressed-exception` (live): `__exit__` returned true for an exception the manager does not
  declare it suppresses (`track(..., suppresses=(BrokenPipeError,))` declares one).
- `exit-raised` (live): `__exit__`/`close()` raised. A `CancelledError` there is cancellation
  passing through cleanup, not a failure, and is not reported.
"""

from __future__ import annotations

from withscope.core.events import Alert, Outcome, Severity

from .base import RuleContext, alert, describe


def _is_cancel(error_type: str | None) -> bool:
    return bool(error_type) and str(error_type).rsplit(".", 1)[-1] == "CancelledError"


def suppressed_exception(ctx: RuleContext) -> list[Alert]:
    out: list[Alert] = []
    for lt in ctx.lifetimes:
        if not lt.suppressed or lt.suppression_declared:
            continue
        err = lt.error or "an exception"
        msg = f"{describe(lt)} swallowed {err}: its exit returned true, so the error silently vanished"
        hint = (
            "let unexpected errors propagate: return False/None from __exit__, and suppress only the type you "
            "expect (`contextlib.suppress(BrokenPipeError)`, or declare it: track(cm, suppresses=(BrokenPipeError,)))"
        )
        out.append(alert("suppressed-exception", Severity.WARNING, msg, hint, lt, lt.released_ns))
    return out


def exit_raised(ctx: RuleContext) -> list[Alert]:
    out: list[Alert] = []
    for lt in ctx.lifetimes:
        if lt.outcome is not Outcome.EXIT_RAISED or _is_cancel(lt.error_type):
            continue
        err = lt.error or "an exception"
        how = "close()" if lt.released_by_close else "its exit"
        msg = f"the cleanup of {describe(lt)} failed: {how} raised {err}, so it may not be released"
        hint = (
            "make cleanup robust: release the resource first, then report errors (try/finally inside __exit__); "
            "an exception raised by __exit__ also replaces the body's own error"
        )
        out.append(alert("exit-raised", Severity.CRITICAL, msg, hint, lt, lt.released_ns))
    return out
