"""`db-backend-leak` (final): PostgreSQL backends of this run still connected after it ended.

Every server connection a workload opens carries `application_name = "withscope-<run id>"`
(`DatabaseConfig.application_name`). After the workload ends, the runner asks the server which
backends with that name remain (`gather_db_facts`, through asyncpg, else psycopg) and the rule
reports each one, cross-checked against the open database lifetimes the recorder saw: a backend
matched to an open tracked connection names its acquisition site; one without a match is
called out as untracked. Backends that are closing are given `settle_s` to go away first.

`terminate_backends` is the runner's cleanup: it ends whatever is left so idle-in-transaction
sessions do not hold locks after the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from withscope.core.events import Alert, Lifetime, Severity
from withscope.core.redact import redact_text

from .base import DbBackend, DbFacts, RuleContext, alert, describe

PROBE_APPLICATION_NAME = "withscope-probe"
DB_KINDS = frozenset({"db.connection", "db.pool", "pool.checkout", "db.transaction"})

_QUERY = (
    "SELECT pid, coalesce(state, ''), coalesce(left(query, 200), ''), "
    "coalesce(extract(epoch from now() - backend_start), 0)::float8 "
    "FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() ORDER BY backend_start"
)
_TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = $1 AND pid <> pg_backend_pid()"
)


def open_server_connections(lifetimes: Sequence[Lifetime]) -> list[Lifetime]:
    """Open tracked connections that hold a server backend (not SQLite), oldest first."""
    return sorted(
        (lt for lt in lifetimes if lt.is_open and lt.kind == "db.connection" and not lt.label.startswith("sqlite")),
        key=lambda lt: lt.acquired_ns,
    )


class _Probe:
    """One short-lived connection for pg_stat_activity queries (asyncpg, else psycopg)."""

    def __init__(self, conn: Any, kind: str) -> None:
        self.conn = conn
        self.kind = kind

    @classmethod
    async def connect(cls, dsn: str, connect_timeout_s: float) -> _Probe:
        try:
            import asyncpg

            conn = await asyncpg.connect(
                dsn, timeout=connect_timeout_s, server_settings={"application_name": PROBE_APPLICATION_NAME}
            )
            return cls(conn, "asyncpg")
        except ImportError:
            pass
        import psycopg

        aconn = await psycopg.AsyncConnection.connect(
            dsn,
            connect_timeout=max(1, int(connect_timeout_s)),
            application_name=PROBE_APPLICATION_NAME,
            autocommit=True,
        )
        return cls(aconn, "psycopg")

    async def fetch(self, sql: str, arg: str) -> list[tuple[Any, ...]]:
        if self.kind == "asyncpg":
            return [tuple(r) for r in await self.conn.fetch(sql, arg)]
        async with self.conn.cursor() as cur:
            await cur.execute(sql.replace("$1", "%s"), (arg,))
            return list(await cur.fetchall())

    async def close(self) -> None:
        await self.conn.close()


async def gather_db_facts(
    dsn: str, application_name: str, expected_open: int, *, settle_s: float = 0.5, connect_timeout_s: float = 5.0
) -> DbFacts:
    """Backends named `application_name`. While there are more than `expected_open` (the open
    connections the recorder saw), re-ask for up to `settle_s`: a closed connection's backend
    leaves pg_stat_activity a moment later. Never raises (errors go to `DbFacts.error`)."""
    try:
        probe = await _Probe.connect(dsn, connect_timeout_s)
    except Exception as exc:
        # A driver's error may echo the DSN: never let its password into the facts (meta, alerts).
        return DbFacts(application_name, (), redact_text(f"could not connect to check backends: {_why(exc)}"))
    try:
        deadline = time.monotonic() + settle_s
        while True:
            rows = await probe.fetch(_QUERY, application_name)
            # a backend's last query is the workload's SQL: it may spell a password too
            backends = tuple(DbBackend(int(r[0]), str(r[1]), redact_text(str(r[2])), float(r[3])) for r in rows)
            if len(backends) <= expected_open or time.monotonic() >= deadline:
                return DbFacts(application_name, backends)
            await asyncio.sleep(0.05)
    except Exception as exc:
        return DbFacts(application_name, (), redact_text(f"could not query pg_stat_activity: {_why(exc)}"))
    finally:
        with contextlib.suppress(Exception):
            await probe.close()


def _why(exc: BaseException) -> str:
    msg = str(exc).strip()
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


async def terminate_backends(dsn: str, application_name: str, *, connect_timeout_s: float = 5.0) -> int:
    """End every backend named `application_name`; returns how many. Never raises."""
    try:
        probe = await _Probe.connect(dsn, connect_timeout_s)
    except Exception:
        return 0
    try:
        return len(await probe.fetch(_TERMINATE, application_name))
    except Exception:
        return 0
    finally:
        with contextlib.suppress(Exception):
            await probe.close()


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
