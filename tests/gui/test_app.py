"""The whole app on a qasync loop with the real runner: alerts and bars appear live, Stop and
closing mid-run release everything, errors are messages, layout persists, the launcher works.

Asyncio is driven from the synchronous tests with `loop.run_until_complete` (a qtbot wait inside a
qasync coroutine would spin a nested loop)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import psutil
import pytest
from PySide6.QtWidgets import QApplication
from qt_helpers import close_window, shutdown_window, until

if TYPE_CHECKING:
    from withscope.core import Recorder
    from withscope.gui.shell.main_window import MainWindow

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "gui_targets.py"


def target(name: str) -> str:
    return f"{TARGETS}:{name}"


def close_kept() -> None:
    """Close what `leak_file` leaked (the runner loaded the file under a private module name)."""
    for mod in list(sys.modules.values()):
        if getattr(mod, "__file__", None) == str(TARGETS):
            for f in mod.KEPT:
                f.close()
            mod.KEPT.clear()


def open_fds() -> int:
    return int(psutil.Process().num_fds())


def baseline_fds(loop: asyncio.AbstractEventLoop, workers: int = 10) -> int:
    """The app's fds before a run, its loop's worker threads' included: each worker makes its
    own (an eventfd) the first time it runs a job - a child run waits for its process there -
    once, not per run. So every worker runs one job first (all at once: each a different one)."""
    import asyncio
    import threading

    together = threading.Barrier(workers)
    jobs = [loop.run_in_executor(None, together.wait, 10) for _ in range(workers)]
    loop.run_until_complete(asyncio.gather(*jobs))
    return open_fds()


def test_binding_is_pyside6_for_pyqtgraph_and_qasync() -> None:
    import pyqtgraph as pg
    import qasync

    assert pg.Qt.QT_LIB == "PySide6"
    assert qasync.QtModuleName == "PySide6"


def test_faulty_catalogue_workload_shows_alert_and_flagged_bar(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:

    async def scenario() -> None:
        window.catalogue.select(["class-cm/faulty"])
        window.catalogue.request_run()
        assert window.controller.running == ["class-cm/faulty"]
        await until(lambda: not window.controller.is_running(), 30, "the run to end")
        await until(lambda: window.alerts.model.rowCount() > 0, 5, "an alert")
        await close_window(window)

    loop.run_until_complete(scenario())
    rules = {ra.alert.rule for ra in window.alerts.model.rows}
    assert "unreleased" in rules
    s = window.bridge.store
    flagged = [r for r, sev in window.timeline.item.alert_rows.items() if sev == "critical"]
    assert flagged, "the leaked connection's bar is framed"
    assert all(s.kinds[int(s.kind[r])] == "db.connection" for r in flagged)
    # the runner's cleanup closed them after the workload ended: shown as leaked, not as fine
    assert all(window.bridge.released_by_cleanup(r) for r in flagged)
    assert "(leaked)" in window.timeline.describe(flagged[0])
    assert "critical" in window.alerts.windowTitle()
    assert "class-cm" in window.details.view.toPlainText() or "unreleased" in window.details.view.toPlainText()


def test_leaked_file_stays_open_with_unreleased_alert(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    seen: dict[str, object] = {}

    async def scenario() -> None:
        assert window.controller.start(target("leak_file"))
        await until(lambda: not window.controller.is_running(), 30, "the run to end")
        await until(lambda: window.alerts.model.rowCount() > 0, 5, "an alert")
        # selecting the alert highlights its bar and shows the stack and the source around the site
        window.alerts.select_row(0)
        seen["selected"] = window.timeline.item.selected
        seen["details"] = window.details.view.toPlainText()
        await close_window(window)

    try:
        loop.run_until_complete(scenario())
    finally:
        close_kept()
    s = window.bridge.store
    rows = np.flatnonzero(s.outcome[: s.n] == -1)
    assert len(rows) == 1  # the leaked file: an open bar, still growing
    assert s.kinds[int(s.kind[rows[0]])] == "file"
    ra = window.alerts.model.rows[0]
    assert ra.alert.rule == "unreleased"
    assert ra.row == int(rows[0])
    assert seen["selected"] == int(rows[0])
    assert "gui_targets.py" in str(seen["details"])
    assert "track(tempfile.TemporaryFile()" in str(seen["details"])  # the source line of the site


def test_stop_releases_everything_and_says_so(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    baseline = baseline_fds(loop)

    async def scenario() -> None:
        assert window.controller.start(target("hold_files"))
        await until(lambda: window.bridge.store.n >= 3, 15, "three open files")
        assert np.count_nonzero(window.bridge.store.outcome[: window.bridge.store.n] == -1) == 3
        assert window.stop_action.isEnabled()
        window.stop_action.trigger()
        await until(lambda: not window.controller.is_running(), 15, "the run to stop")
        await until(lambda: "released" in window.messages.text(), 5, "the confirmation")
        await close_window(window)

    loop.run_until_complete(scenario())
    s = window.bridge.store
    assert s.n == 3
    assert not (s.outcome[: s.n] == -1).any()
    assert "every resource was released" in window.messages.text()
    assert window.messages.level == "info"
    assert not window.stop_action.isEnabled()
    assert open_fds() <= baseline + 1  # the sampler may hold one /proc handle


def test_closing_mid_run_cancels_awaits_cleanup_and_releases(
    qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path
) -> None:
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.shell.settings import Settings

    baseline = baseline_fds(loop)
    win = MainWindow(settings=Settings(settings_path))
    win.show()

    async def scenario() -> None:
        win.start()
        assert win.controller.start(target("hold_files"))
        await until(lambda: win.bridge.store.n >= 3, 15, "three open files")
        win.close()  # the user closes the window mid-run
        assert win.isVisible() or win.shut_down  # the close is deferred until cleanup is done
        await until(lambda: win.shut_down, 30, "shutdown")

    loop.run_until_complete(scenario())
    entries_left = win.controller.entries
    recorders = [win.bridge.recorder(k) for k, _n, _r in win.bridge.runs()]
    assert not entries_left
    # a live run's recorder (RecorderReader names only what the bridge reads of it)
    assert all(r is not None and not cast("Recorder", r).open_lifetimes() for r in recorders)
    assert not win.controller.tasks
    assert not win.isVisible()
    assert not win.bridge.active
    shutdown_window(loop, win)
    assert open_fds() <= baseline + 1


def test_errors_are_messages_and_never_take_the_app_down(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> None:
        assert not window.controller.start("no_such_file.py:main")
        assert window.messages.isVisible()
        assert "Cannot run no_such_file.py:main" in window.messages.text()
        assert not window.controller.start("no/such-workload")
        assert window.controller.start(target("crash"))
        await until(lambda: not window.controller.is_running(), 15, "the crash")
        await until(lambda: "failed" in window.messages.text(), 5, "the error message")
        await close_window(window)

    loop.run_until_complete(scenario())
    assert "the workload crashed" in window.messages.text()
    assert window.messages.level == "error"
    assert [name for name, _e in window.controller.errors][-1].endswith("crash")
    s = window.bridge.store
    assert s.n == 1
    assert s.outcome[0] == 0


def test_unreachable_database_is_a_message(
    window: MainWindow, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the app pointed at a PostgreSQL server that does not answer (what `withscope --db DSN` sets)
    monkeypatch.setenv("WITHSCOPE_DB", "postgresql://nobody@127.0.0.1:1/nowhere")

    async def scenario() -> None:
        assert window.controller.start("class-cm/correct")
        await until(lambda: not window.controller.is_running(), 30, "the run to fail")
        await until(lambda: "failed" in window.messages.text(), 5, "the error message")
        await close_window(window)

    loop.run_until_complete(scenario())
    # THEN one message names the run and the connection failure; the app is still there
    assert window.messages.level == "error"
    assert "class-cm/correct" in window.messages.text()
    assert "127.0.0.1" in window.messages.text() or "connect" in window.messages.text().lower()
    assert "Traceback" not in window.messages.text()
    assert window.controller.errors[-1][0] == "class-cm/correct"


def test_layout_theme_and_lanes_persist(
    qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path
) -> None:
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.shell.settings import Settings

    first = MainWindow(settings=Settings(settings_path))
    first.show()
    first.resize(700, 520)
    first.throughput.hide()
    first.set_theme_mode("dark")
    first.timeline.set_group_by("run")
    loop.run_until_complete(_started(first))
    shutdown_window(loop, first)  # saves on close

    # the app restores the layout before its views exist (placeholders stand for the docks)
    second = MainWindow(settings=Settings(settings_path), defer_views=True)
    second.restore()
    second.show()
    loop.run_until_complete(second.ready())
    try:
        assert second.theme_mode == "dark"
        assert second.theme_actions["dark"].isChecked()
        assert second.timeline.group_by == "run"
        assert second.throughput.isHidden()
        assert (second.width(), second.height()) == (700, 520)
    finally:
        second.set_theme_mode("light", save=False)
        loop.run_until_complete(_started(second))
        shutdown_window(loop, second)


async def _started(win: MainWindow) -> None:
    win.start()


@pytest.mark.slow
def test_launcher_screenshot_and_quit_after(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    code = "import sys; from withscope.gui.shell.launcher import main; sys.exit(main())"
    res = subprocess.run(
        [sys.executable, "-c", code, "--run", "class-cm/faulty", "--screenshot", str(shot), "--quit-after", "1.5"],
        env=env, capture_output=True, text=True, timeout=90,
    )
    assert res.returncode == 0, res.stderr
    from PySide6.QtGui import QImage

    img = QImage(str(shot))
    assert not img.isNull()
    assert img.width() >= 1200
    assert img.height() >= 700
    res0 = subprocess.run([sys.executable, "-c", code, "--quit-after", "0"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert res0.returncode == 0, res0.stderr


def test_a_run_that_cannot_start_is_said_and_exits_2() -> None:
    # GIVEN the app asked to run an unknown target (a typo)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    code = "import sys; from withscope.gui.shell.launcher import main; sys.exit(main())"
    res = subprocess.run(
        [sys.executable, "-c", code, "--run", "class-cm/faulti", "--quit-after", "0.2", "--no-settings"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    # THEN, besides the message in the window, the terminal hears why and the exit status says so
    assert res.returncode == 2
    assert "withscope: cannot run class-cm/faulti: unknown target" in res.stderr


def test_demo_screenshot_and_quit_after_without_a_display(tmp_path: Path) -> None:
    # GIVEN no display at all (CI): `withscope demo --screenshot ... --quit-after S` still works
    shot = tmp_path / "tour.png"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    code = "import sys; from withscope.gui.shell.launcher import main; sys.exit(main())"
    res = subprocess.run(
        [sys.executable, "-c", code, "demo", "--screenshot", str(shot), "--quit-after", "1.5", "--no-settings"],
        env=env, capture_output=True, text=True, timeout=90,
    )
    # THEN it says it saved the picture of the app in tour mode and exits 0
    assert res.returncode == 0, res.stderr
    assert "screenshot saved" in res.stdout
    from PySide6.QtGui import QImage

    assert not QImage(str(shot)).isNull()


def test_two_runs_at_once_live_alert_status_bar_and_stop(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    # GIVEN two user targets started one after the other, both still running
    baseline = baseline_fds(loop)
    seen: dict[str, object] = {}

    async def scenario() -> None:
        assert window.controller.start(target("hold_files"))
        assert window.controller.start(target("swallow_then_wait"))
        seen["running"] = sorted(n.rsplit(":", 1)[1] for n in window.controller.running)
        seen["status"] = window.status_running.text()
        # WHEN the swallowing target's exit rule fires: THEN its alert is in the table while both still run
        await until(lambda: window.alerts.model.rowCount() > 0, 15, "a live alert")
        seen["alert_while_running"] = (len(window.controller.running), window.alerts.model.rows[0].alert.rule)
        await until(lambda: window.bridge.store.n >= 4, 15, "every bar")
        # (the counters refresh at most every 0.25 s: wait for the one that counts every bar)
        await until(lambda: "events/s" in window.status_events.text()
                    and "4 lifetimes" in window.status_lifetimes.text(), 5, "the status bar's counters")
        await until(lambda: "loop lag" in window.status_lag.text() and "—" not in window.status_lag.text(), 5,
                    "the loop-lag reading")
        seen["lifetimes"] = window.status_lifetimes.text()
        seen["dropped_hidden"] = window.status_dropped.isHidden()
        # AND Stop cancels both and releases everything
        window.stop_action.trigger()
        await until(lambda: not window.controller.is_running(), 15, "both runs to stop")
        await until(lambda: "released" in window.messages.text(), 5, "the confirmation")
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["running"] == ["hold_files", "swallow_then_wait"]
    assert str(seen["status"]).startswith("Running 2:")
    assert seen["alert_while_running"] == (2, "suppressed-exception")
    assert "4 lifetimes" in str(seen["lifetimes"])
    assert seen["dropped_hidden"] is True
    s = window.bridge.store
    assert not (s.outcome[: s.n] == -1).any(), "no bar left open after Stop"
    assert "every resource was released" in window.messages.text()
    assert open_fds() <= baseline


def test_top_level_help_lists_every_app_option(capsys: pytest.CaptureFixture[str]) -> None:
    # The app's options are parsed by the launcher and shown by `withscope --help` (the CLI's
    # help), from the launcher's one definition of them.
    from withscope.gui.shell.launcher import build_parser, main

    options = {s for a in build_parser()._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    assert options, "the launcher has options"
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(f"    {c} " in text for c in ("list", "run", "check", "export", "demo")), text
    missing = sorted(o for o in options if o not in text)
    assert missing == [], f"`withscope --help` does not mention {missing}"
