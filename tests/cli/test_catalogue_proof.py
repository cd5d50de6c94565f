"""The catalogue is honest: every faulty variant triggers exactly its declared rules, every
correct one none - on SQLite, and on PostgreSQL where a server answers. Runs `withscope check`
itself, so the command people use to see the table is what is proven."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from pg_server import postgres_absent
from withscope.core import cli
from withscope.core.cli import check
from withscope.core.targets import catalogue

DSN = os.environ.get("WITHSCOPE_TEST_DB", "postgresql://postgres@127.0.0.1:5432/test")


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    code = cli.main(["check", "--json", *args])
    out, err = capsys.readouterr()
    rows: list[dict[str, object]] = json.loads(out)
    table = "\n".join(
        f"{r['workload']:<24} {r['expected']} -> {r['actual']} {r['result']} {r['error'] or ''}" for r in rows
    )
    assert code == 0, f"catalogue mismatch:\n{table}\n{err}"
    return rows


def _assert_honest(rows: list[dict[str, object]]) -> None:
    names = [w.name for w in catalogue()]
    assert [r["workload"] for r in rows] == names
    for r in rows:
        assert r["result"] == "OK", r
        assert r["actual"] == r["expected"], r
        if str(r["workload"]).endswith("/correct"):
            assert r["actual"] == [], r
        else:
            assert r["actual"], f"{r['workload']} declares no rule: a faulty variant must trigger one"
        assert r["status"] in ("ok", "error"), r


def test_catalogue_is_honest_on_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    _assert_honest(_check(capsys))


@pytest.mark.postgres
def test_catalogue_is_honest_on_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    why = postgres_absent(DSN)
    if why is not None:
        pytest.skip(why)
    rows = _check(capsys, "--db", DSN)
    _assert_honest(rows)
    assert any("db-backend-leak" in r["actual"] for r in rows)  # type: ignore[operator]


def test_list_shows_every_entry_with_its_expected_rules(capsys: pytest.CaptureFixture[str]) -> None:
    entries = catalogue()
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for w in entries:
        assert w.name in out
        assert w.title in out
    assert cli.main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [w.name for w in entries]
    assert {d["variant"] for d in data} == {"correct", "faulty"}
    assert all(set(d) >= {"pattern", "title", "expected_rules", "narration"} for d in data)


def test_check_refuses_an_unreachable_server_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["check", "--db", "postgresql://postgres@127.0.0.1:1/test"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("withscope: PostgreSQL does not answer at postgresql://postgres@127.0.0.1:1/test")
    assert err.count("\n") == 1


def test_catalogue_name_resolves_to_its_workload() -> None:
    entries = catalogue()
    from withscope.core.targets import resolve_target

    t = resolve_target(entries[0].name)
    assert t.workload is entries[0]
    assert t.takes_context


def _fake_runs(monkeypatch: pytest.MonkeyPatch, results: list[frozenset[str]]) -> list[str]:
    """Replace the runner in `check` by one that returns `results` (rules triggered) in turn."""
    from withscope.core.events import Alert, Severity
    from withscope.core.snapshot import RunSnapshot

    started: list[str] = []
    queue = iter(results)

    class FakeRun:
        def __init__(self, name: str, options: object, sampler: object = None) -> None:
            self.name = name

        def start(self) -> FakeRun:
            started.append(self.name)
            return self

        async def wait(self) -> RunSnapshot:
            alerts = tuple(Alert(r, Severity.WARNING, "m", "h") for r in sorted(next(queue)))
            return RunSnapshot(self.name, "ok", None, 0, 0.0, 1, alerts=alerts)

    monkeypatch.setattr(check, "Run", FakeRun)
    return started


def test_check_runs_an_entry_once_more_when_only_timing_rules_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an entry expecting throughput-decay whose first run was blurred, the second one not
    started = _fake_runs(monkeypatch, [frozenset(), frozenset({"throughput-decay"})])
    rows = asyncio.run(check.check_catalogue(names=["accumulation/faulty"]))
    # THEN it was run twice, is OK, and the row says it took a second run
    assert started == ["accumulation/faulty", "accumulation/faulty"]
    assert rows[0].ok
    assert rows[0].as_dict()["attempts"] == 2


def test_check_does_not_run_again_for_other_mismatches(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an entry that triggers a rule it does not declare (not a timing rule): no second chance
    started = _fake_runs(monkeypatch, [frozenset({"unreleased", "throughput-decay"})])
    rows = asyncio.run(check.check_catalogue(names=["accumulation/faulty"]))
    assert started == ["accumulation/faulty"]
    assert not rows[0].ok
    assert rows[0].attempts == 1
