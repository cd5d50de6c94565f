"""`db-backend-leak` (final): PostgreSQL backends of this run still connected after it ended.

Every server connection a workload opens carries `application_name = "withscope-<run id>"`
(`DatabaseConfig.application_name`). After the workload ends, the runner asks the server which
backends with that name remain (`withscope.core.probes.postgres.gather_db_facts`) and the rule
reports each one, cross-checked against the open database lifetimes the recorder saw: a backend
matched to an open tracked connection names its acquisition site; one without a match is
called out as untracked. Backends that are closing are given `settle_s` to go away first.

This module only judges the facts it is given (no I/O).
"""

from __future__ import annotations

from collections.abc import Sequence

from withscope.core.events import Alert, Lifetime, Severity

from .base import RuleContext, alert, describe


def open_server_connections(lifetimes: Sequence[Lifetime]) -> list[Lifetime]:
    """Open tracked connections that hold a server backend (not SQLite), oldest first."""
    return sorted(
        (lt for lt in lifetimes if lt.is_open and lt.kind == "db.connection" and not lt.label.startswith("sqlite")),
        key=lambda lt: lt.acquired_ns,
    )


def db_backend_leak(ctx: RuleContext) -> list[Alert]:
    facts = ctx.db
    if facts is None or not facts.backends:
        return []
    tracked = open_server_connections(ctx.lifetimes)
    out: list[Alert] = []
    for i, b in enumerate(facts.backends):
        lt = tracked[i] if i < len(tracked) else None
        query = f", last query: {b.query.strip()[:80]!r}" if b.query.strip() else ""
        head = (
            f"PostgreSQL backend pid {b.pid} ({b.state or 'unknown state'}{query}) of this run "
            f"({facts.application_name}) is still connected after the run ended"
        )
        if lt is not None:
            msg = f"{head}; the recorder saw {describe(lt)} still open"
        else:
            msg = f"{head}; no open tracked connection accounts for it (opened without track()?)"
        if b.state.startswith("idle in transaction"):
            hint = (
                "the transaction was never committed or rolled back: use `async with conn.transaction():` so an "
                "error rolls back, and close the connection"
            )
        else:
            hint = "close the connection on every path (`async with`, or close() in `finally`) or return it to the pool"
        out.append(alert("db-backend-leak", Severity.CRITICAL, msg, hint, lt, ctx.now_ns))
    return out
