"""The database workloads against a real PostgreSQL server (skipped, with the reason, when none answers).

Backends are found in pg_stat_activity by the run's application_name, waiting briefly for ones
that are still closing.
"""

from __future__ import annotations

import pytest
import workload_harness as wh
from withscope.core import Outcome
from withscope.core.context import DatabaseConfig
from withscope.core.workloads import CATALOGUE, async_pool

pytestmark = pytest.mark.postgres

DB_NAMES = [w.name for w in CATALOGUE.values() if w.uses_db]
PG = DatabaseConfig(dsn=wh.PG_DSN)


def test_the_database_workloads_are_the_expected_ones() -> None:
    assert [n.split("/")[0] for n in DB_NAMES[::2]] == [
        "class-cm",
        "async-pool",
        "transactions",
        "streaming",
        "exit-stack",
    ]


@pytest.mark.parametrize("name", DB_NAMES)
def test_triggers_exactly_its_declared_rules_on_postgres(run_pg: wh.RunFn, name: str) -> None:
    ev = run_pg(name)
    assert ev.rules() == set(CATALOGUE[name].expected_for(PG)), (
        [(lt.kind, lt.label, lt.outcome.value) for lt in ev.lifetimes],
        ev.backends,
    )


@pytest.mark.parametrize("name", DB_NAMES)
def test_connections_are_postgres_connections(run_pg: wh.RunFn, name: str) -> None:
    conns = run_pg(name).of_kind("db.connection")
    assert conns
    assert all(lt.label.startswith("postgresql://") for lt in conns)


@pytest.mark.parametrize("name", [n for n in DB_NAMES if n.endswith("/correct")])
def test_correct_variant_leaves_no_backend(run_pg: wh.RunFn, name: str) -> None:
    assert run_pg(name).backends == []


@pytest.mark.parametrize("name", DB_NAMES)
def test_run_cleanup_ends_every_backend(run_pg: wh.RunFn, name: str) -> None:
    ev = run_pg(name)
    assert ev.cleanup_errors == []
    assert ev.backends_after_cleanup == []
    assert ev.fds_after <= ev.fds_before


def test_leaked_connections_are_idle_backends(run_pg: wh.RunFn) -> None:
    ev = run_pg("async-pool/faulty")
    assert len(ev.backends) == async_pool.POOL_SIZE
    assert {state for _, state in ev.backends} == {"idle"}
    assert len([lt for lt in ev.open if lt.kind == "db.connection"]) == len(ev.backends)


def test_unguarded_transaction_shows_idle_in_transaction(run_pg: wh.RunFn) -> None:
    ev = run_pg("transactions/faulty")
    assert [lt.kind for lt in ev.open] == ["db.transaction"]
    (mark,) = [m for m in ev.marks if m.startswith("transaction left open")]
    assert mark.endswith(": idle in transaction)")
    # The worker's connection itself was closed, which ended the transaction on the server.
    assert ev.backends == []
    assert [lt.outcome for lt in ev.of_kind("db.connection")] == [Outcome.RELEASED]
