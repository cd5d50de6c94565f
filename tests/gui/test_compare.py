"""Compare: the diff (alerts by rule, resources by kind) on hand-built runs, the window's two
linked, labelled timelines, and File > Compare on real correct / faulty runs of the session and
on their recordings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytestqt.qtbot import QtBot
from qt_helpers import close_window, flush_deletes, present, until
from withscope.core.events import Alert, Lifetime, Mark, Outcome, Severity
from withscope.core.snapshot import RunSnapshot
from withscope.gui.recordings.compare import CompareWindow, KindCounts, diff_runs

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

T0 = 1_000_000_000
MS = 1_000_000


def lt(lid: int, kind: str, start: int, end: int | None, outcome: Outcome = Outcome.RELEASED) -> Lifetime:
    return Lifetime(lid, kind, f"{kind} {lid}", "app.py:1", (), "MainThread", None, T0 + start * MS,
                    None if end is None else T0 + end * MS, Outcome.OPEN if end is None else outcome,
                    None, None, False, False)


def run(target: str, lifetimes: tuple[Lifetime, ...], rules: tuple[str, ...], end_ms: int = 50) -> RunSnapshot:
    alerts = tuple(Alert(r, Severity.CRITICAL, "m", "h", None, None, (), T0 + 40 * MS) for r in rules)
    return RunSnapshot(target, "ok", None, T0, 0.0, T0 + end_ms * MS, lifetimes, alerts,
                       marks=(Mark(T0 + 30 * MS, "workload end"),))


@pytest.fixture
def correct() -> RunSnapshot:
    return run("class-cm/correct", tuple(lt(i, "db.connection", i * 5, i * 5 + 3) for i in range(4)), ())


@pytest.fixture
def faulty() -> RunSnapshot:
    lts = (
        lt(0, "db.connection", 0, 3),
        lt(1, "db.connection", 5, None),  # still open at the end
        lt(2, "db.connection", 10, 35),  # released only by the run's cleanup (after "workload end")
        lt(3, "file", 12, 20, Outcome.GC),
        lt(4, "file", 14, 18),
    )
    return run("class-cm/faulty", lts, ("unreleased", "unreleased", "gc-release"), end_ms=60)


def test_diff_counts_alerts_by_rule_and_resources_by_kind(correct: RunSnapshot, faulty: RunSnapshot) -> None:
    d = diff_runs(correct, faulty, "A", "B")
    assert d.alerts == (("gc-release", 0, 1), ("unreleased", 0, 2))
    assert d.kind_counts("db.connection") == (KindCounts(4, 0, 0), KindCounts(3, 2, 0))
    assert d.kind_counts("file") == (KindCounts(), KindCounts(2, 0, 1))
    assert [k for k, _a, _b in d.kinds] == ["db.connection", "file"]
    assert d.alert_counts("nope") == (0, 0)


def test_compare_window_shows_both_runs_linked_and_the_diff(
    qtbot: QtBot, correct: RunSnapshot, faulty: RunSnapshot
) -> None:
    w = CompareWindow(correct, faulty, a_label="A: correct", b_label="B: faulty")
    assert present(w.kinds_table.horizontalHeaderItem(2)).text() == "A left open"
    qtbot.addWidget(w)
    w.show()
    assert "A: correct" in w.pane_a.title.text()
    assert "class-cm/correct" in w.pane_a.title.text()
    assert "B: faulty" in w.pane_b.title.text()
    assert w.pane_a.bridge.store.n == 4
    assert w.pane_b.bridge.store.n == 5
    # aligned time axes: B follows A's x range
    vb_a = w.pane_a.timeline.plot.getViewBox()
    vb_b = w.pane_b.timeline.plot.getViewBox()
    assert vb_b.linkedView(vb_b.XAxis) is vb_a
    vb_a.setXRange(0.01, 0.02, padding=0)
    assert vb_b.viewRange()[0] == pytest.approx([0.01, 0.02])
    rows = w.table_text()
    assert ["gc-release", "0", "1"] in rows
    assert ["unreleased", "0", "2"] in rows
    assert ["db.connection", "4", "0", "0", "3", "2", "0"] in rows
    assert ["file", "0", "0", "0", "2", "0", "1"] in rows
    assert "Left open by the workload: A: correct 0, B: faulty 2." in w.summary.text()
    assert "Only B: faulty raised: gc-release, unreleased." in w.summary.text()
    w.close()
    flush_deletes()


def test_compare_the_last_two_runs_and_their_recordings(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        f = window.features
        seen["too_early"] = f.compare_last_runs()
        seen["too_early_text"] = window.messages.text()
        for name in ("class-cm/correct", "class-cm/faulty"):
            window.run_workloads([name])
            await until(lambda: not window.controller.is_running(), 30, f"{name} to end")
        w = f.compare_last_runs()
        assert isinstance(w, CompareWindow)
        seen["runs"] = (w.diff, w.windowTitle(), w.isVisible(), w.parent() is window)
        w.close()
        a, b = (r.snapshot() for r in present(f.history).finished_runs()[-2:])
        pa, pb = tmp_path / "correct.withscope.db", tmp_path / "faulty.withscope.db"
        assert await f.save_recording(pa, a)
        assert await f.save_recording(pb, b)
        w2 = await f.compare_files(pa, pb)
        assert isinstance(w2, CompareWindow)
        seen["files"] = (w2.diff, w2.pane_a.title.text(), w2.pane_b.title.text())
        seen["bad"] = await f.compare_files(pa, tmp_path / "missing.db")
        seen["bad_text"] = window.messages.text()
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["too_early"] is None
    assert "Compare needs two finished runs" in seen["too_early_text"]
    diff, title, visible, parented = seen["runs"]
    assert title == "withscope — compare class-cm/correct vs class-cm/faulty"
    assert visible
    assert parented
    assert diff.alert_counts("unreleased")[0] == 0
    assert diff.alert_counts("unreleased")[1] > 0
    a, b = diff.kind_counts("db.connection")
    assert a.count > 0
    assert a.left_open == 0
    assert b.left_open > 0
    fdiff, ta, tb = seen["files"]
    assert fdiff.alerts == diff.alerts
    assert fdiff.kinds == diff.kinds
    assert "A: correct.withscope.db" in ta
    assert "B: faulty.withscope.db" in tb
    assert seen["bad"] is None
    assert "missing.db: no such file" in seen["bad_text"]
