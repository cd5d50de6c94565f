"""Each dock built on a hand-made model: change the model, check the view (napari style)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from qt_helpers import present
from withscope.core import Alert, Sample, Severity, StreamStats
from withscope.gui.bridge.bridge import Bridge, RunAlert, RunMark, RunStream
from withscope.gui.docks.alerts_dock import AlertsDock
from withscope.gui.docks.catalogue_dock import CatalogueDock
from withscope.gui.docks.details_dock import DetailsDock, source_excerpt
from withscope.gui.docks.metrics_dock import MetricsDock
from withscope.gui.docks.throughput_dock import ThroughputDock


def alert(rule: str, severity: Severity, lid: int | None = None) -> Alert:
    return Alert(rule, severity, f"{rule} happened", f"fix {rule}", lid, "app.py:3", ("app.py:3 in main",))


def test_alerts_dock_lists_newest_first_with_counts_in_title(qtbot: QtBot) -> None:
    bridge = Bridge()
    dock = AlertsDock(bridge)
    qtbot.addWidget(dock)
    assert dock.windowTitle() == "Leak alerts"
    assert dock.stack.currentIndex() == 0  # empty state says what to do
    bridge.alertsAdded.emit([RunAlert(0, alert("unreleased", Severity.CRITICAL), None),
                             RunAlert(0, alert("gc-release", Severity.WARNING), None)])
    bridge.alertsAdded.emit([RunAlert(0, alert("late-release", Severity.WARNING), None)])
    m = dock.model
    assert m.rowCount() == 3
    assert [m.index(r, 1).data() for r in range(3)] == ["late-release", "gc-release", "unreleased"]
    assert m.index(0, 5).data() == "fix late-release"
    assert m.index(0, 4).data() == "app.py:3"
    assert dock.windowTitle() == "Leak alerts — 3 (1 critical, 2 warning)"
    assert dock.stack.currentIndex() == 1
    with qtbot.waitSignal(dock.alertSelected) as blocker:
        dock.select_row(2)
    assert blocker.args[0].alert.rule == "unreleased"
    bridge.cleared.emit()
    assert m.rowCount() == 0
    assert dock.windowTitle() == "Leak alerts"
    dock.close_dock()


def test_alert_age_grows_for_open_resources(qtbot: QtBot) -> None:
    bridge = Bridge()
    dock = AlertsDock(bridge)
    qtbot.addWidget(dock)
    s = bridge.store
    s.append(0, np.array([0]), np.array([0.0]), np.array([np.nan]), np.array([-1], np.int8),
             np.array([s.kind_id("file")], np.int16))
    bridge.origin_ns = time.perf_counter_ns() - 2_000_000_000  # the lifetime opened ~2 s ago
    bridge.alertsAdded.emit([RunAlert(0, alert("late-release", Severity.WARNING, 0), 0)])
    age = dock.model.index(0, 3).data()
    assert age.endswith(" s")
    assert float(age.split()[0]) >= 2.0
    dock.close_dock()


def test_metrics_dock_plots_samples_in_bounded_history(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    import withscope.gui.docks.metrics_dock as md

    bridge = Bridge()
    bridge.origin_ns = 0
    monkeypatch.setattr(md, "HISTORY", 50)
    dock = MetricsDock(bridge)
    qtbot.addWidget(dock)
    assert dock.stack.currentIndex() == 0
    samples = [Sample(i * 100_000_000, (100 + i) * 1048576, 10 + i, 3, i % 2, 12.5) for i in range(80)]
    bridge.samplesAdded.emit(bridge._sample_block(samples))
    assert dock.stack.currentIndex() == 1
    x, y = dock.curves[0].getData()
    assert len(x) == 50  # bounded: the oldest 30 fell off
    assert x[-1] == 7.9
    assert y[-1] == 179.0
    assert dock.curves[1].getData()[1][-1] == 89  # fds
    assert dock.value_labels[0].toPlainText() == "179.0 MiB"
    bridge.marksAdded.emit([RunMark(0, 1.0, "run start"), RunMark(0, 2.0, "repeat 1/1 start")])
    assert dock.marks[0].t.tolist() == [1.0]  # repeat starts are not drawn
    bridge.cleared.emit()
    assert len(dock.curves[0].getData()[0] if dock.curves[0].getData()[0] is not None else []) == 0
    assert dock.stack.currentIndex() == 0


def test_throughput_dock_curves_ttfb_and_summary(qtbot: QtBot) -> None:
    bridge = Bridge()
    bridge.origin_ns = 0
    dock = ThroughputDock(bridge)
    qtbot.addWidget(dock)
    ms = 1_000_000
    series = tuple((t * 100 * ms, t * 10, t * 10 * 1024) for t in range(1, 11))
    st = StreamStats(7, "download", 0, 50 * ms, 1000 * ms, True, 100, 100 * 1024, series)
    bridge.streamsChanged.emit([RunStream(0, st)])
    assert dock.stack.currentIndex() == 1
    (bytes_curve, chunks_curve) = dock.curves[(0, 7)]
    x, y = bytes_curve.xData, bytes_curve.yData  # the data (getData() is on the log axis)
    assert len(x) == 10
    assert np.allclose(y, 102400.0)
    assert np.allclose(chunks_curve.getData()[1], 100.0)
    tx, _ty = dock.ttfb.getData()
    assert tx.tolist() == [0.05]
    row = [present(dock.table.item(0, c)).text() for c in range(dock.table.columnCount())]
    assert row[0] == "download #7"
    assert row[2] == "50.0 ms"
    assert row[4] == "100"
    assert row[5] == "102.4 kB"  # one convention everywhere: decimal, as the axes
    assert row[6] == "102.4 kB/s"
    assert row[7] == "ended"
    bridge.cleared.emit()
    assert dock.table.rowCount() == 0
    assert not dock.curves


@dataclass(frozen=True)
class FakeWorkload:
    name: str
    variant: str
    title: str
    narration: str
    expected_rules: frozenset[str] = frozenset()


def test_catalogue_dock_groups_badges_narration_and_run_request(qtbot: QtBot) -> None:
    patterns = [
        ("class-cm", "Class-based context manager", [
            FakeWorkload("class-cm/correct", "correct", "Closes always", "It closes."),
            FakeWorkload("class-cm/faulty", "faulty", "Leaks on error", "It leaks.", frozenset({"unreleased"})),
        ]),
        ("sockets", "Sockets", [FakeWorkload("sockets/faulty", "faulty", "Never closed", "Sockets leak.")]),
    ]
    dock = CatalogueDock(patterns)
    qtbot.addWidget(dock)
    tree = dock.tree
    assert tree.topLevelItemCount() == 2
    top = present(tree.topLevelItem(0))
    assert top.text(0) == "Class-based context manager"
    assert top.childCount() == 2
    faulty = present(top.child(1))
    assert not faulty.icon(0).isNull()
    assert "faulty" in faulty.text(0)
    assert not dock.run_button.isEnabled()
    dock.select(["class-cm/faulty"])
    assert dock.selected_names() == ["class-cm/faulty"]
    assert "It leaks." in dock.description.toPlainText()
    assert "unreleased" in dock.description.toPlainText()
    assert dock.run_button.isEnabled()
    dock.repeat.setValue(3)
    with qtbot.waitSignal(dock.runRequested) as blocker:
        dock.run_button.click()
    assert blocker.args == [["class-cm/faulty"], 3]
    dock.select(["class-cm/faulty", "sockets/faulty"])
    assert sorted(dock.selected_names()) == ["class-cm/faulty", "sockets/faulty"]


def test_details_show_stack_and_source_around_the_site(qtbot: QtBot, tmp_path: Path) -> None:
    src = tmp_path / "app.py"
    src.write_text("".join(f"line_{i} = {i}\n" for i in range(1, 21)))
    ex = source_excerpt(f"{src}:10")
    assert ex is not None
    assert [n for n, _ in ex[2]] == list(range(7, 14))
    assert ex[1] == 10
    assert source_excerpt("nowhere.py:3") is None
    bridge = Bridge()
    dock = DetailsDock(bridge)
    qtbot.addWidget(dock)
    a = Alert("unreleased", Severity.CRITICAL, "file leaked", "use with", None, f"{src}:10", (f"{src}:10 in main",))
    dock.show_row(None, RunAlert(0, a, None))
    text = dock.view.toPlainText()
    assert "use with" in text
    assert "line_10 = 10" in text
    assert "line_13 = 13" in text
    assert "in main" in text
