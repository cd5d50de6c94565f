"""Is the PostgreSQL server of the database tests there? One answer for every test that needs it.

A test skips, saying why, only when the server or the driver is absent: no asyncpg, a refused or
timed-out connection. A server that answers wrongly (authentication refused, a missing database,
any protocol error) is a failure, raised from here into the test."""

from __future__ import annotations

import asyncio
import os

DSN = os.environ.get("WITHSCOPE_TEST_DB", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_absent(dsn: str = DSN) -> str | None:
    """Why the tests cannot use PostgreSQL at `dsn` (None when it answers); raises when it answers wrongly."""
    try:
        import asyncpg
    except ImportError as exc:
        return f"the asyncpg driver is not installed: {exc}"

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, TimeoutError) as exc:  # refused, unreachable, no answer in time
        return f"no PostgreSQL server at {dsn}: {type(exc).__name__}: {exc}"
    return None
