"""db-backend-leak: the rule on hand-built facts, and the pg_stat_activity probe on the real server."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import pytest
from pg_server import postgres_absent
from rules_helpers import ctx, lt
from withscope.core.probes import gather_db_facts, terminate_backends
from withscope.core.rules import DbBackend, DbFacts
from withscope.core.rules.postgres import db_backend_leak

DSN = os.environ.get("WITHSCOPE_TEST_DB", "postgresql://postgres@127.0.0.1:5432/test")


def test_each_backend_left_is_reported_and_matched_to_an_open_tracked_connection() -> None:
    # GIVEN two backends left on the server, one open tracked connection, one closed one
    facts = DbFacts(
        "withscope-abc",
        (
            DbBackend(101, "idle in transaction", "INSERT INTO t VALUES (1)", 0.2),
            DbBackend(102, "idle", "SELECT 1", 0.1),
        ),
    )
    closed = lt(0, kind="db.connection", label="postgresql://h/test", until_ms=5)
    open_ = lt(1, kind="db.connection", label="postgresql://h/test", site="repo.py:30")
    sqlite = lt(2, kind="db.connection", label="sqlite:/tmp/a.db")  # holds no backend
    # WHEN the final rule runs
    alerts = db_backend_leak(ctx(closed, open_, sqlite, db=facts, final=True))
    # THEN both backends are reported; the first matches the open tracked connection
    assert [a.lifetime_id for a in alerts] == [1, None]
    assert "pid 101 (idle in transaction, last query: 'INSERT INTO t VALUES (1)')" in alerts[0].message
    assert "the recorder saw db.connection postgresql://h/test opened at repo.py:30 still open" in alerts[0].message
    assert "rolls back" in alerts[0].hint
    assert "no open tracked connection accounts for it" in alerts[1].message


def test_no_backends_or_no_postgres_means_no_alert() -> None:
    assert db_backend_leak(ctx(lt(0, kind="db.connection", label="postgresql://h"), final=True)) == []
    assert db_backend_leak(ctx(db=DbFacts("withscope-x", (), "could not connect"), final=True)) == []


async def _server_or_skip() -> None:
    why = await asyncio.to_thread(postgres_absent, DSN)
    if why is not None:
        pytest.skip(why)


@pytest.mark.postgres
def test_probe_sees_a_backend_left_open_and_not_one_closed() -> None:
    import asyncpg

    async def main() -> tuple[DbFacts, DbFacts, int, DbFacts]:
        await _server_or_skip()
        app = f"withscope-test-{secrets.token_hex(4)}"
        kept = await asyncpg.connect(DSN, server_settings={"application_name": app})
        closed = await asyncpg.connect(DSN, server_settings={"application_name": app})
        await kept.execute("BEGIN")
        await closed.close()
        try:
            facts = await gather_db_facts(DSN, app, expected_open=1)
            killed = await terminate_backends(DSN, app)
            after = await gather_db_facts(DSN, app, expected_open=0)
        finally:
            kept.terminate()
        unreachable = await gather_db_facts("postgresql://postgres@127.0.0.1:1/test", app, 0, connect_timeout_s=1)
        return facts, after, killed, unreachable

    facts, after, killed, unreachable = asyncio.run(main())
    assert facts.error is None
    assert [b.state for b in facts.backends] == ["idle in transaction"]
    assert killed == 1
    assert after.backends == ()
    assert unreachable.error is not None
    assert unreachable.error.startswith("could not connect")


@pytest.mark.postgres
def test_probe_works_through_psycopg_when_asyncpg_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    async def main() -> DbFacts:
        await _server_or_skip()
        app = f"withscope-test-{secrets.token_hex(4)}"
        kept = await psycopg.AsyncConnection.connect(DSN, application_name=app)
        try:
            monkeypatch.setitem(sys.modules, "asyncpg", None)  # `import asyncpg` now raises ImportError
            return await gather_db_facts(DSN, app, expected_open=1)
        finally:
            monkeypatch.undo()
            await kept.close()

    facts = asyncio.run(main())
    assert facts.error is None
    assert [b.state for b in facts.backends] == ["idle"]
