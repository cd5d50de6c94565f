"""What a run asks the PostgreSQL server: the backends still connected under the run's
`application_name` (`gather_db_facts`, for the `db-backend-leak` rule), and ending them at cleanup
(`terminate_backends`, so idle-in-transaction sessions hold no locks after the run). One short
connection per question, through asyncpg, else psycopg. Never raises: errors become text in the
facts, with any password the driver echoed scrubbed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from withscope.core.redact import redact_text
from withscope.core.rules.base import DbBackend, DbFacts

PROBE_APPLICATION_NAME = "withscope-probe"

_QUERY = (
    "SELECT pid, coalesce(state, ''), coalesce(left(query, 200), ''), "
    "coalesce(extract(epoch from now() - backend_start), 0)::float8 "
    "FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() ORDER BY backend_start"
)
_TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = $1 AND pid <> pg_backend_pid()"
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
