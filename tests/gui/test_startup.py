"""The progressive start-up (gui/shell/startup.py): the frame is shown before numpy and pyqtgraph are
imported, the views are built on a later loop turn, and what is asked before they exist (runs,
the View menu, the features' menus, closing) takes effect once they do, in order.

Asyncio is driven from the synchronous tests with `loop.run_until_complete` (a qtbot wait inside a
qasync coroutine would spin a nested loop)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication
from qt_helpers import close_window, shutdown_window, until

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "gui_targets.py"

# Runs the app as `withscope --quit-after 0 --no-settings` does and reports what was imported and
# built at the moment its window was first shown, and once its views were built.
_PROBE = r"""
import json, sys
from withscope.gui.shell import main_window

seen = {}
_init = main_window.MainWindow.__init__

def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    def shown():
        seen["shown"] = {"pyqtgraph": "pyqtgraph" in sys.modules, "numpy": "numpy" in sys.modules,
                         "visible": self.isVisible(), "views_ready": self.views_ready,
                         "placeholders": sorted(self._placeholders)}
    def ready():
        seen["ready"] = {"pyqtgraph": "pyqtgraph" in sys.modules, "timeline": hasattr(self, "timeline"),
                         "placeholders": sorted(self._placeholders)}
    self.firstShown.connect(shown)
    self.viewsReady.connect(ready)

main_window.MainWindow.__init__ = init
from withscope.gui.shell.launcher import main
code = main(sys.argv[1:])
print("PROBE " + json.dumps(seen))
sys.exit(code)
"""


def _probe(*args: str, mark: bool = False) -> tuple[dict[str, Any], list[str]]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("WITHSCOPE_STARTUP_MARK", None)
    if mark:
        env["WITHSCOPE_STARTUP_MARK"] = "1"
    res = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    probe = [ln for ln in lines if ln.startswith("PROBE ")]
    assert len(probe) == 1, res.stdout
    return json.loads(probe[0][len("PROBE "):]), lines


def test_window_shows_before_numpy_and_pyqtgraph_are_imported() -> None:
    # WHEN the app starts as the start-up benchmark runs it
    seen, lines = _probe("--quit-after", "0", "--no-settings", mark=True)
    # THEN its window was on screen, with placeholders, before the plotting libraries were imported
    assert seen["shown"] == {"pyqtgraph": False, "numpy": False, "visible": True, "views_ready": False,
                             "placeholders": ["alerts", "console", "details", "metrics", "throughput", "timeline"]}
    # AND the views were built afterwards, in the placeholders' places, before it quit
    assert seen["ready"] == {"pyqtgraph": True, "timeline": True, "placeholders": []}
    # AND with WITHSCOPE_STARTUP_MARK=1 it said so once on stdout (what bench_gui.py times)
    from withscope.gui.shell.app import STARTUP_MARK

    assert lines.count(STARTUP_MARK) == 1


def test_start_up_mark_is_off_by_default() -> None:
    _seen, lines = _probe("--quit-after", "0", "--no-settings")
    from withscope.gui.shell.app import STARTUP_MARK

    assert STARTUP_MARK not in lines


def _deferred(settings_path: Path, **kwargs: Any) -> Any:
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.shell.settings import Settings

    return MainWindow(settings=Settings(settings_path), defer_views=True, **kwargs)


def test_requests_before_the_views_exist_take_effect_in_order(
    qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path
) -> None:
    # GIVEN a window whose views are not built yet
    win = _deferred(settings_path)
    win.resize(1200, 800)
    assert not win.views_ready
    assert not hasattr(win, "timeline")
    assert win.findChild(type(win.catalogue), "catalogueDock") is win.catalogue
    built: list[str] = []
    win.viewsReady.connect(lambda: built.append("views"))

    # WHEN the user asks for things before they exist: lanes by run, follow off, a run, a compare
    win.lane_actions["run"].trigger()
    win.follow_action.trigger()
    win.start()
    win.run_workloads([f"{TARGETS}:leak_file"])
    win.features.actions["compare_runs"].trigger()
    assert len(win._queue) == 4  # lanes, follow, the run, the compare: nothing ran or crashed
    win.show()

    async def scenario() -> None:
        await win.ready()
        # THEN once the views are built every request took effect, in the order asked
        assert built == ["views"]
        assert win.timeline.group_by == "run"
        assert not win.timeline.follow
        assert win.bridge.active
        assert win.lane_actions["run"].isChecked()
        assert "Compare needs two finished runs" in win.messages.text()
        await until(lambda: win.alerts.model.rowCount() > 0, 30, "the leak alert")
        await close_window(win)

    try:
        loop.run_until_complete(scenario())
        assert {ra.alert.rule for ra in win.alerts.model.rows} == {"unreleased"}
        assert win.view_menu.actions().count(win.alerts.toggleViewAction()) == 1
    finally:
        _close_kept()
        shutdown_window(loop, win)


def test_the_views_take_the_placeholders_places(
    qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path
) -> None:
    # GIVEN a deferred window on screen with the default layout
    win = _deferred(settings_path)
    win.resize(1400, 900)
    win.show()
    sizes: dict[str, tuple[int, int]] = {}

    def placeholders_shown() -> None:
        for attr in ("alerts", "details", "metrics"):
            ph = win._placeholders[attr]
            sizes[attr] = (ph.width(), ph.height())

    win.firstShown.connect(placeholders_shown)

    async def scenario() -> None:
        await win.ready()
        await asyncio.sleep(0.05)  # a few loop turns: the layout settles
        # THEN each real dock has its placeholder's place and size, metrics and throughput are tabs
        for attr, size in sizes.items():
            dock = getattr(win, attr)
            assert (dock.width(), dock.height()) == size, attr
        assert win.tabifiedDockWidgets(win.metrics) == [win.throughput, win.console]
        assert not win.metrics.visibleRegion().isEmpty()  # the raised tab, as in the frame
        assert win.throughput.visibleRegion().isEmpty()
        assert win.timeline.isVisible()
        toggles = [a for a in win.view_menu.actions() if a.text() in
                   ("Workloads", "Leak alerts", "Details", "Process metrics", "Streaming throughput")]
        assert toggles == [d.toggleViewAction() for d in
                           (win.catalogue, win.alerts, win.details, win.metrics, win.throughput)]
        await close_window(win)

    try:
        loop.run_until_complete(scenario())
        assert len(sizes) == 3
    finally:
        shutdown_window(loop, win)


def test_closing_before_the_views_exist_shuts_down(
    qapp: QApplication, loop: asyncio.AbstractEventLoop, settings_path: Path
) -> None:
    # GIVEN a deferred window never shown (its views never started building), with a run queued
    win = _deferred(settings_path)
    win.run_workloads([f"{TARGETS}:hold_files"])

    async def scenario() -> None:
        win.start()
        await close_window(win)

    try:
        # WHEN it is closed THEN it shuts down the one way it always does; the run it was
        # waiting to start never starts (it would only be cancelled)
        loop.run_until_complete(scenario())
        assert win.views_ready
        assert not win.controller.entries
        assert not win.controller.tasks
        assert not list(win.bridge.runs())
        assert not win.bridge.active
    finally:
        shutdown_window(loop, win)


def _close_kept() -> None:
    for mod in list(sys.modules.values()):
        if getattr(mod, "__file__", None) == str(TARGETS):
            for f in mod.KEPT:
                f.close()
            mod.KEPT.clear()


def test_launcher_skips_the_cli_only_for_the_apps_own_options() -> None:
    # The launcher opens the app without importing core.cli when the arguments are the app's
    # options; for those the CLI would have done nothing either (same decision both ways).
    from withscope.core import cli
    from withscope.gui.shell.launcher import _app_only

    cases = [[], ["--quit-after", "0"], ["--run", "class-cm/faulty", "--screenshot", "x.png"], ["--no-settings"],
             ["--theme", "dark"], ["-h"], ["--help"], ["--version"], ["list"], ["run", "x"], ["demo"],
             ["demo", "--check"], ["export", "r.db", "--format", "png", "-o", "x"], ["check"], ["nonsense"],
             ["--run", "x", "--help"]]
    for args in cases:
        if _app_only(args):
            assert not cli.is_headless(args), args
            assert cli.gui_command(args) is None, args
    assert _app_only(["--quit-after", "0", "--no-settings"])
    assert not _app_only(["--help"])
    assert not _app_only(["list"])


def test_opening_the_app_does_not_import_the_cli() -> None:
    code = ("import sys; from withscope.gui.shell import launcher; from withscope.gui.shell import app\n"
            "app.run = lambda options: print('cli' if 'withscope.core.cli' in sys.modules else 'no cli') or 0\n"
            "sys.exit(launcher.main(['--quit-after', '0', '--no-settings']))")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "no cli"
