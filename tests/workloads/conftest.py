"""Fixtures for the workload tests: one run per (workload, backend), shared by the tests that read it."""

from __future__ import annotations

from pathlib import Path

import pytest
import workload_harness as wh
from pg_server import postgres_absent
from withscope.core.workloads import CATALOGUE


@pytest.fixture(scope="session")
def _runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workload-runs")


@pytest.fixture(scope="session")
def _sqlite_cache() -> dict[str, wh.Evidence]:
    return {}


@pytest.fixture(scope="session")
def _pg_cache() -> dict[str, wh.Evidence]:
    return {}


@pytest.fixture
def run_sqlite(_runs_dir: Path, _sqlite_cache: dict[str, wh.Evidence]) -> wh.RunFn:
    """Evidence of one run of a catalogue entry on SQLite at scale 0.2 (run once per session)."""

    def run(name: str) -> wh.Evidence:
        if name not in _sqlite_cache:
            _sqlite_cache[name] = wh.run(CATALOGUE[name], _runs_dir)
        return _sqlite_cache[name]

    return run


@pytest.fixture(scope="session")
def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used (None when it answers; an error when it answers wrongly)."""
    return postgres_absent(wh.PG_DSN)


@pytest.fixture
def run_pg(_runs_dir: Path, _pg_cache: dict[str, wh.Evidence], pg_unavailable: str | None) -> wh.RunFn:
    """Like `run_sqlite`, against the PostgreSQL server (the test is skipped, with the reason, without one)."""
    if pg_unavailable is not None:
        pytest.skip(pg_unavailable)

    def run(name: str) -> wh.Evidence:
        if name not in _pg_cache:
            _pg_cache[name] = wh.run(CATALOGUE[name], _runs_dir, postgres=True)
        return _pg_cache[name]

    return run
