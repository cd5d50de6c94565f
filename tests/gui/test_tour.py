"""Tour mode in the app: step navigation (buttons and keys), each step's workloads started through
the window's run machinery, the focus highlighted (dock flashed, the rule's alert selected, the
kind's lanes banded), auto-play, presenter fonts, and a malformed tour shown as a non-modal error.
Asyncio is driven from the synchronous tests with `loop.run_until_complete` (a qtbot wait inside a
qasync coroutine would spin a nested loop)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from qt_helpers import close_window, present, until

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow


def write_tour(path: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    doc = {"format": "withscope.tour/1", "name": path.stem, "title": "Test tour", "description": "For tests.",
           "steps": steps, **extra}
    path.write_text(json.dumps(doc))
    return path


STEPS: list[dict[str, Any]] = [
    {"title": "Welcome", "narration": "First paragraph with `code here`.\n\nSecond paragraph.",
     "focus": "catalogue", "code": "with open(p) as f:\n    f.read()"},
    {"title": "The leak", "narration": "Look at the alerts.", "workloads": ["class-cm/faulty"],
     "focus": {"view": "alerts", "rule": "unreleased", "kind": "db.connection"}},
    {"title": "The fix", "narration": "Every bar ends.", "workload": "class-cm/correct",
     "focus": {"view": "timeline", "kind": "db.connection"}},
]


@pytest.fixture
def catalogue_needed(window: Any) -> None:
    assert "class-cm/faulty" in window.catalogue._workloads, "the catalogue shown has no class-cm/faulty"


def key(widget: Any, k: Qt.Key) -> None:
    from PySide6.QtTest import QTest

    QTest.keyClick(widget, k)


@pytest.mark.usefixtures("catalogue_needed")
def test_navigation_runs_each_steps_workloads_and_highlights_its_focus(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    tour_file = write_tour(tmp_path / "three-steps.json", STEPS)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        player = window.features.tours
        assert player.open(str(tour_file))
        panel = present(player.panel)
        await until(lambda: player.step_done, 5, "step 1 to settle")
        seen["s0"] = (player.index, panel.progress.text(), panel.step_title.text(), panel.narration_text(),
                      panel.narration.toHtml(), player.highlighter.frame.target, window.controller.running,
                      panel.back_button.isEnabled())
        # Right (the panel has the keys) -> step 2: its workload starts at once, alerts dock raised
        key(panel.body, Qt.Key.Key_Right)
        await until(lambda: window.controller.running == ["class-cm/faulty"], 5, "step 2's run to start")
        seen["s1_running"] = window.controller.running
        seen["s1_frame"] = (player.highlighter.frame.target, player.highlighter.frame.isVisible())
        await until(lambda: player.step_done, 30, "step 2's run to finish")
        await until(lambda: window.alerts.table.currentIndex().isValid(), 5, "the rule's alert to be selected")
        idx = window.alerts.table.currentIndex()
        seen["s1_alert"] = window.alerts.model.rows[idx.row()].alert.rule
        seen["s1_band"] = player.highlighter.band_range()
        seen["s1_band_shown"] = player.highlighter.band is not None and player.highlighter.band.isVisible()
        seen["s1_lanes"] = dict((n, (t, r)) for n, t, r in window.timeline.layout_.groups())
        seen["s1_status"] = panel.runs_label.text()
        # PageDown -> step 3 (the previous step's data is cleared, the new run shown)
        key(panel.body, Qt.Key.Key_PageDown)
        await until(lambda: player.index == 2 and player.step_done, 30, "step 3 to run")
        seen["s2"] = (window.bridge.running(), {window.bridge.run_name(k) for k, _n, _r in window.bridge.runs()},
                      window.alerts.model.rowCount(), player.highlighter.frame.target, panel.next_button.isEnabled())
        # Right at the last step does nothing; Left / PageUp go back
        key(panel.body, Qt.Key.Key_Right)
        seen["s2_again"] = player.index
        key(panel.body, Qt.Key.Key_PageUp)
        seen["back"] = player.index
        await until(lambda: player.step_done, 30, "step 2 to run again")
        key(panel.body, Qt.Key.Key_Left)
        seen["back2"] = player.index
        await until(lambda: player.step_done, 5, "step 1")
        await close_window(window)

    loop.run_until_complete(scenario())
    index, progress, title, text, html, frame, running, back = seen["s0"]
    assert (index, progress, title) == (0, "Step 1 of 3", "Welcome")
    assert "First paragraph with" in text
    assert "Second paragraph." in text
    assert "with open(p) as f:" in text
    assert "monospace" in html
    assert frame is window.catalogue
    assert running == []
    assert back is False
    assert seen["s1_running"] == ["class-cm/faulty"]
    assert seen["s1_frame"] == (window.alerts, True)
    assert seen["s1_alert"] == "unreleased"
    top, rows = seen["s1_lanes"]["db.connection"]
    assert seen["s1_band"] == (top - 0.15, top + rows + 0.15)
    assert seen["s1_band_shown"]
    assert "finished" in seen["s1_status"]
    _running, names, alerts, frame2, next_enabled = seen["s2"]
    assert names == {"class-cm/correct"}, "entering a step clears the previous one"
    assert alerts == 0
    assert frame2 is window.timeline
    assert next_enabled is False
    assert seen["s2_again"] == 2
    assert seen["back"] == 1
    assert seen["back2"] == 0


@pytest.mark.usefixtures("catalogue_needed")
def test_autoplay_advances_after_the_runs_and_the_pace(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    steps: list[dict[str, Any]] = [
        {"title": "One", "narration": "n", "focus": "timeline"},
        {"title": "Two", "narration": "n", "workloads": ["class-cm/correct"], "focus": "metrics", "wait_s": 0.5},
        {"title": "Three", "narration": "n", "focus": "alerts"},
    ]
    tour_file = write_tour(tmp_path / "auto.json", steps, presenter={"pace_s": 0.5, "auto_play": True})
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        player = window.features.tours
        assert player.open(str(tour_file))
        seen["playing"] = (player.playing, present(player.panel).play_button.isChecked(), player.pace_s,
                           present(player.panel).pace.value())
        started: list[str] = []
        window.controller.runStarted.connect(lambda _key, name: started.append(name))
        # while step 2's run goes on (however short it is), auto-play has no advance scheduled
        window.controller.runStarted.connect(lambda *_: seen.setdefault("due_while_running", player.advance_due))
        await until(lambda: player.index == 1, 10, "auto-play to reach step 2")
        await until(lambda: player.step_done, 30, "step 2's run to finish")
        seen["step2_running"] = started
        await until(lambda: player.index == 2, 30, "auto-play to reach step 3 after the run")
        await until(lambda: not player.playing, 10, "auto-play to stop at the end")
        seen["end_message"] = window.messages.text()
        # Space on the panel toggles play (on a step that is not the last)
        player.go(0)
        await until(lambda: player.step_done, 5, "step 1")
        key(present(player.panel).body, Qt.Key.Key_Space)
        seen["space"] = player.playing
        key(present(player.panel).body, Qt.Key.Key_Space)
        seen["space2"] = player.playing
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["playing"] == (True, True, 0.5, 0.5)
    assert seen["step2_running"] == ["class-cm/correct"]
    assert seen["due_while_running"] is None, "auto-play waits for the step's runs"
    assert "End of the tour" in seen["end_message"]
    assert seen["space"] is True
    assert seen["space2"] is False


def test_presenter_mode_scales_the_fonts_and_back(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    tour_file = write_tour(tmp_path / "p.json", [{"title": "T", "narration": "n", "focus": "timeline"}],
                           presenter={"font_scale": 2.0})
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    base = app.font().pointSizeF()
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        player = window.features.tours
        assert player.open(str(tour_file), presenter=True)
        seen["on"] = (app.font().pointSizeF(), present(player.panel).presenter_button.isChecked(),
                      present(player.panel).step_title.font().pointSizeF())
        present(player.panel).presenter_button.click()
        seen["off"] = (app.font().pointSizeF(), player.presenter)
        await close_window(window)

    loop.run_until_complete(scenario())
    size, checked, title_size = seen["on"]
    assert size == pytest.approx(base * 2.0)
    assert checked
    assert title_size > size
    assert seen["off"] == (pytest.approx(base), False)


@pytest.mark.parametrize(("content", "problem"), [
    ('{"name": "bad", "title": "t", "description": "d", "steps": [{"narration": "x", "focus": "timeline"}]}',
     "steps[0].title: missing"),
    ('{"name": "bad", "title": "t", ', "invalid JSON at line 1"),
    ('{"name": "bad", "title": "t", "description": "d", "steps": [{"title": "x", "narration": "y", '
     '"focus": "timeline", "workloads": ["class-cm/faulti"]}]}', "unknown workload 'class-cm/faulti'"),
])  # fmt: skip
def test_a_malformed_tour_is_a_clear_non_modal_error(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path, content: str, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        player = window.features.tours
        seen["ok"] = player.open(str(bad))
        seen["error"] = (present(player.panel).error.isVisible(), present(player.panel).error.text())
        seen["message"] = window.messages.text()
        seen["modal"] = QApplication.activeModalWidget()
        seen["tour"] = player.tour
        # the app goes on: the built-in tour still opens from the panel's chooser
        assert player.open(None)
        seen["after"] = (present(player.tour).name, present(player.panel).error.isVisible())
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["ok"] is False
    visible, text = seen["error"]
    assert visible
    assert str(bad) in text
    assert problem in text.replace("&#x27;", "'")
    assert str(bad) in seen["message"]
    assert seen["modal"] is None
    assert seen["tour"] is None
    assert seen["after"] == ("catalogue", False)


def test_demo_request_opens_the_tour_when_the_window_starts(
    qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path
) -> None:
    """`withscope demo NAME --autoplay`: the launcher's request is picked up by the next window."""
    from qt_helpers import shutdown_window
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.shell.settings import Settings
    from withscope.gui.tours.tour_player import DemoRequest, request_at_start

    request_at_start(DemoRequest("catalogue", presenter=False, autoplay=False))
    win = MainWindow(settings=Settings(settings_path))
    win.resize(1400, 900)
    win.show()
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        win.start()
        await until(lambda: win.features._tours is not None and win.features.tours.tour is not None, 5, "the tour")
        player = win.features.tours
        seen["tour"] = (present(player.tour).name, player.index, present(player.panel).isVisible(),
                        win.features.actions["tour_panel"].isChecked())
        await close_window(win)

    try:
        loop.run_until_complete(scenario())
    finally:
        shutdown_window(loop, win)
    assert seen["tour"] == ("catalogue", 0, True, True)
