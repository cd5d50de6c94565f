"""Every run of the app is a process of its own: the app samples that process, shows what it
prints and stays up whatever it does.

GIVEN the app (qasync loop, real runner) WHEN a catalogue entry, a user script with arguments or
a hostile program runs THEN it runs in a child process (its pid is not the app's), the metrics are
that process's, its output is in the Console, and a crash, a hard exit, a KeyboardInterrupt or an
endless CPU loop (stopped with Stop) ends with a status naming it while the app goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import pytest
from pytestqt.qtbot import QtBot
from qt_helpers import close_window, present, until

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

HERE = Path(__file__).resolve().parent
HOSTILE = HERE.parent / "child" / "targets"


def entry_run(window: Any) -> Any:
    (entry,) = window.controller.entries.values()
    return entry.run


def finished(window: Any) -> list[tuple[str, str, str]]:
    """(name, status, error) of every run that finished, in order."""
    seen: list[tuple[str, str, str]] = []
    window.controller.runFinished.connect(lambda _k, name, status, error: seen.append((name, status, error)))
    return seen


def frames(window: Any) -> list[int]:
    """Counts the bridge's frames: the app's loop turning (one frame is one tick of its timer)."""
    count = [0]
    window.bridge.statsChanged.connect(lambda _s: count.__setitem__(0, count[0] + 1))
    return count


def test_a_catalogue_run_is_a_child_process_and_the_metrics_are_its_own(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:
    seen: dict[str, Any] = {}
    ends = finished(window)

    async def scenario() -> None:
        assert window.controller.start("class-cm/faulty")
        run = entry_run(window)
        await until(lambda: window.metrics.ring.n > 0, 30, "the first samples in the metrics dock")
        seen["child_pid"] = run.child_pid
        seen["sampled_pid"] = run.sampler.pid
        seen["shown_pid"] = window.bridge.metrics_pid()
        seen["label"] = window.metrics.source_label.text()
        await until(lambda: not window.controller.is_running(), 60, "the run to end")
        seen["tree"] = set(run.sampler.tree_pids)
        seen["samples"] = run.sampler.history()
        await close_window(window)

    loop.run_until_complete(scenario())
    app = os.getpid()
    assert ends[-1][:2] == ("class-cm/faulty", "ok")
    assert seen["child_pid"] not in (None, app)
    assert seen["sampled_pid"] == seen["shown_pid"] == seen["child_pid"]  # the metrics follow the child
    assert app not in seen["tree"]
    assert seen["samples"], "the child's process tree was sampled"
    assert "class-cm/faulty" in seen["label"]
    assert str(seen["child_pid"]) in seen["label"]
    assert any(ra.alert.rule == "unreleased" for ra in window.alerts.model.rows)
    # the sites name the catalogue's own files, which stay after the run: the details show the source
    sites = {present(window.bridge.lifetime(row)).site for row in range(window.bridge.store.n)}
    assert all(site is not None and os.path.isfile(site.rsplit(":", 1)[0]) for site in sites), sites
    assert "Source of" not in window.details.view.toPlainText()


def _write_program(folder: Path) -> None:
    (folder / "data.txt").write_text("from the working folder\n")
    (folder / "prog.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'pid': os.getpid(), 'name': __name__}))\n"
        "print(open('data.txt').read().strip())\n"
        "print('a warning on stderr', file=sys.stderr)\n"
    )


def _program_says(window: Any) -> dict[str, Any]:
    lines = [text for text, _c in window.console.line_colours() if text.startswith("{")]
    assert len(lines) == 1, window.console.text()
    return dict(json.loads(lines[0]))


def test_a_user_script_with_arguments_and_a_folder_prints_into_the_console(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    from withscope.gui.bridge.runs import RunRequest

    _write_program(tmp_path)
    ends = finished(window)

    async def scenario() -> None:
        req = RunRequest("prog.py", ("--count", "3", "a name with spaces"), cwd=str(tmp_path), python=sys.executable)
        assert window.controller.start(req)
        await until(lambda: not window.controller.is_running(), 30, "the program to end")
        await until(lambda: "a warning on stderr" in window.console.text(), 5, "its output in the console")
        await close_window(window)

    loop.run_until_complete(scenario())
    assert ends[-1][1] == "ok", ends
    said = _program_says(window)
    assert said["argv"] == ["--count", "3", "a name with spaces"]
    assert said["name"] == "__main__"
    assert said["pid"] != os.getpid()
    colours = dict(window.console.line_colours())
    assert colours["from the working folder"] != colours["a warning on stderr"]  # stderr stands out
    from withscope.gui.docks.console_dock import STDERR_COLOUR

    assert colours["a warning on stderr"] == STDERR_COLOUR
    assert "[prog.py #1] a warning on stderr" in window.console.text()  # each line names its run


@pytest.mark.parametrize(
    ("script", "status", "said"),
    [
        ("segfault.py", "crashed: SIGSEGV", "crashed: SIGSEGV"),
        ("os_exit.py", "exited 3", "exited 3"),
        ("keyboard_interrupt.py", "error", "KeyboardInterrupt"),
    ],
)
def test_a_hostile_program_ends_with_its_status_and_the_app_goes_on(
    window: MainWindow, loop: asyncio.AbstractEventLoop, script: str, status: str, said: str
) -> None:
    ends = finished(window)

    async def scenario() -> None:
        assert window.controller.start(str(HOSTILE / script))
        await until(lambda: not window.controller.is_running(), 30, "the program to end")
        await until(lambda: said in window.messages.text(), 5, "the message naming what happened")
        # AND the app still runs programs
        assert window.controller.start("class-cm/correct")
        await until(lambda: not window.controller.is_running(), 60, "the next run to end")
        await close_window(window)

    loop.run_until_complete(scenario())
    assert ends[0][1] == status, ends
    assert ends[1][1] == "ok", ends
    assert window.isVisible() is False
    assert window.shut_down
    s = window.bridge.store
    assert s.n >= 1  # the file the program opened before its end is kept


def test_stop_ends_an_endless_cpu_loop_while_the_app_keeps_drawing(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:
    ends = finished(window)
    ticks = frames(window)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        assert window.controller.start(str(HOSTILE / "cpu_loop.py"))
        run = entry_run(window)
        await until(lambda: window.bridge.store.n >= 1, 30, "the program's file")
        before = ticks[0]
        await until(lambda: ticks[0] >= before + 10, 10, "ten frames while the program spins")
        seen["pid"] = run.child_pid
        window.stop_action.trigger()
        await until(lambda: not window.controller.is_running(), 10, "Stop to end it")
        await close_window(window)

    loop.run_until_complete(scenario())
    assert ends == [(f"{HOSTILE / 'cpu_loop.py'}", "stopped", "")]
    assert not psutil.pid_exists(seen["pid"])  # stopped and reaped


def test_open_target_takes_arguments_and_a_folder_and_remembers_them(
    window: MainWindow, loop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    _write_program(tmp_path)

    def fill(dlg: Any, folder: str) -> None:
        dlg.target_edit.setText("prog.py")
        dlg.args_edit.setText('--name "two words"')
        dlg.cwd_edit.setText(folder)
        dlg.python_edit.setText(sys.executable)

    async def scenario() -> None:
        window.open_target()
        dlg = window._dialog
        assert dlg is not None
        assert dlg.isVisible()
        # a folder that does not exist: one line in the dialog, which stays open
        fill(dlg, str(tmp_path / "nowhere"))
        QTest.mouseClick(dlg.run_button, Qt.MouseButton.LeftButton)
        assert dlg.isVisible()
        assert dlg.error_label.text() == f"No such folder: {tmp_path / 'nowhere'}"
        assert not window.controller.is_running()
        fill(dlg, str(tmp_path))
        QTest.mouseClick(dlg.run_button, Qt.MouseButton.LeftButton)
        assert not dlg.isVisible()
        await until(lambda: not window.controller.is_running(), 30, "the program to end")
        await until(lambda: "a warning on stderr" in window.console.text(), 5, "its output")
        # the next time, the dialog offers the same target, arguments and folder
        window.open_target()
        again = present(window._dialog)
        assert again is not dlg
        assert (again.target_edit.text(), again.args_edit.text(), again.cwd_edit.text()) == (
            "prog.py", '--name "two words"', str(tmp_path))
        again.reject()
        await close_window(window)

    loop.run_until_complete(scenario())
    said = _program_says(window)
    assert said["argv"] == ["--name", "two words"]
    assert said["pid"] != os.getpid()


def test_the_console_is_bounded_and_elides_huge_lines(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    from withscope.gui.bridge.runs import RunRequest
    from withscope.gui.model.console import HISTORY

    (tmp_path / "loud.py").write_text(
        f"for i in range({HISTORY + 2000}):\n"
        "    print('line', i)\n"
        "print('x' * 100_000)\n"
        "print('the end')\n"
    )

    async def scenario() -> None:
        assert window.controller.start(RunRequest(str(tmp_path / "loud.py"), python=sys.executable))
        await until(lambda: not window.controller.is_running(), 60, "the program to end")
        await until(lambda: "the end" in window.console.text(), 10, "its last line")
        await close_window(window)

    loop.run_until_complete(scenario())
    doc = window.console.view.document()
    assert doc.blockCount() <= HISTORY
    assert window.controller.console.total == HISTORY + 2002
    (huge,) = [text for text, _c in window.console.line_colours() if text.startswith("xxx")]
    assert huge.endswith("… [98,000 more characters]")
    assert len(huge) < 2100
    window.console.clear()
    assert window.console.text() == ""
