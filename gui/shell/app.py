"""Start-up and shutdown of the desktop app on a qasync loop.

Order (each step guards a known qasync/Qt trap): the binding is pinned when this module is imported
(`pin_binding`: PySide6 first, then `QT_API`/`PYQTGRAPH_QT_LIB`, before qasync or pyqtgraph load); the
`QApplication` is created first; the loop is a qasync `QEventLoop` (`asyncio.run(...,
loop_factory=...)` on 3.12+, `qasync.run` on 3.11); `setQuitOnLastWindowClosed(False)` and the
window's close event drives shutdown (cancel runs, await their cleanup, then leave `main`).
Errors that reach the loop's exception handler are shown in the window, never fatal.

SIGINT (Ctrl+C in the terminal) and SIGTERM close the window the way its close button does -
runs stopped and awaited, recordings being written finished - through the loop's own signal
handling (`loop.add_signal_handler`: a wake-up fd the Qt loop watches, so no KeyboardInterrupt
is raised into Qt's event loop); the exit status is then 128 + the signal (130, 143). A second
signal while shutting down changes nothing: the shutdown in progress completes.

Progressive start-up (startup.py): the window shows its frame first, before numpy or pyqtgraph
are imported, and builds its plots on the loop turn after that frame was painted; `--run`
workloads wait for them, a `--screenshot` is taken once they exist, and `--quit-after` counts
from the first shown frame. With `WITHSCOPE_STARTUP_MARK=1` the app prints `STARTUP_MARK` on
stdout at that moment (benchmarks/bench_gui.py measures start-up up to that line), and
`RUN_MARK NAME STATUS` when a run ends (tests driving the app from outside wait on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QMessageLogContext, QRectF, Qt, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication
from withscope.gui.style import theme as th

if TYPE_CHECKING:  # imported where the window is built (start-up shows a splash first)
    from withscope.gui.shell.main_window import MainWindow

log = logging.getLogger("withscope")
ASSETS = Path(__file__).resolve().parent.parent / "assets"
SCREENSHOT_SIZE = (1680, 1000)  # --screenshot / --quit-after renders: reproducible pictures
STARTUP_MARK = "withscope: window shown"
RUN_MARK = "withscope: run finished"  # + " NAME STATUS", with WITHSCOPE_STARTUP_MARK=1 (tests wait on it)


def pin_binding() -> None:
    """Make qasync and pyqtgraph use PySide6, whatever other bindings are installed or named in
    the environment (with several present each library could otherwise pick a different one).
    PySide6 is already imported above (both libraries prefer an imported binding); the variables
    override a user's own `QT_API`. Called at import, before anything imports qasync or pyqtgraph."""
    os.environ["QT_API"] = "pyside6"
    os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"


pin_binding()


@dataclass(slots=True)
class Options:
    run: list[str] = field(default_factory=list)
    repeat: int = 1
    screenshot: str | None = None
    quit_after: float | None = None
    theme: str | None = None  # "light" | "dark" | None (saved choice / system)
    settings: bool = True
    recording: str | None = None  # a recording file to open at launch


def app_icon() -> QIcon:
    for name in ("withscope.png", "withscope.svg"):
        path = ASSETS / name
        if path.exists():
            icon = QIcon(str(path))
            if not icon.isNull():
                return icon
    pm = QPixmap(64, 64)  # drawn fallback: three lifetime bars
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor("#1f2a36"))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(2, 2, 60, 60), 12, 12)
    for y, x0, x1, c in ((16, 10, 40, "#4e79a7"), (29, 18, 54, "#59a14f"), (42, 10, 30, "#e15759")):
        p.setBrush(QColor(c))
        p.drawRoundedRect(QRectF(x0, y, x1 - x0, 8), 3, 3)
    p.end()
    return QIcon(pm)


# Qt messages that say nothing to a user: the offscreen platform (screenshots, CI) prints this
# one for every top-level window.
_QUIET_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def quiet_qt_messages() -> None:
    """Drop the Qt messages in `_QUIET_QT_MESSAGES`; every other one goes to stderr as before."""

    def handler(_mode: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        if message not in _QUIET_QT_MESSAGES:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The one QApplication (reused when it exists, e.g. under pytest-qt)."""
    quiet_qt_messages()
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationName("withscope")
    app.setOrganizationName("withscope")
    app.setApplicationDisplayName("withscope")
    app.setDesktopFileName("withscope")
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    return app


def load_patterns() -> list[tuple[str, str, list[Any]]]:
    """The catalogue grouped by pattern."""
    from withscope.core import workloads

    return [(pid, title, list(ws)) for pid, title, ws in workloads.patterns()]


async def main(options: Options, app: QApplication) -> int:
    """Open the window, start what `options` asks, and return when the window has shut down."""
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.shell.settings import Settings

    loop = asyncio.get_running_loop()
    headless_shot = options.screenshot is not None or options.quit_after is not None
    settings = Settings() if options.settings and not headless_shot else None
    win = MainWindow(patterns=load_patterns(), settings=settings, defer_views=True)
    shown = asyncio.Event()
    win.firstShown.connect(shown.set)
    if os.environ.get("WITHSCOPE_STARTUP_MARK") == "1":
        win.firstShown.connect(lambda: print(STARTUP_MARK, flush=True))

        def mark_run_end() -> None:
            win.controller.runFinished.connect(
                lambda _key, name, status, _error: print(f"{RUN_MARK} {name} {status}", flush=True))

        win.when_ready(mark_run_end)
    win.setWindowIcon(app_icon())

    def on_loop_error(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        log.error("withscope: %s", context.get("message"), exc_info=exc)
        if not win.shut_down:
            win.messages.show_message("error", f"Internal error: {exc!r}" if exc else str(context.get("message")))

    loop.set_exception_handler(on_loop_error)
    if settings is not None:
        win.restore()  # the saved geometry, or a first window sized from the screen
    elif headless_shot:
        win.resize(*SCREENSHOT_SIZE)  # a timed screenshot: the same picture on every screen
    else:
        win.fit_to_screen()  # --no-settings: a first window, sized from the screen as one is
    if options.theme:
        win.set_theme_mode(options.theme, save=False)
    elif settings is None:
        win.set_theme_mode("system", save=False)
    done = asyncio.Event()
    win.closed.connect(done.set)
    signalled = handle_signals(loop, win)
    win.show()
    win.start()
    if options.run:
        win.catalogue.select(options.run)
        win.run_workloads(options.run, options.repeat)  # they start once the views exist
    opened: list[asyncio.Task[bool]] = []
    if options.recording:
        path = Path(options.recording)
        win.when_ready(lambda: opened.append(win.features.open_recording(path)))
    timed: asyncio.Task[None] | None = None
    if options.quit_after is not None or options.screenshot is not None:
        delay = options.quit_after if options.quit_after is not None else 2.0

        def finish() -> None:
            if options.screenshot:
                save_screenshot(win, options.screenshot)
            if options.quit_after is not None:
                win.close()

        async def finish_later() -> None:
            await shown.wait()
            await asyncio.sleep(max(0.0, delay))
            if options.screenshot:
                with contextlib.suppress(Exception):  # views that failed to build: shown as a message
                    await win.ready()
                    for task in opened:  # a recording asked for at launch is in the picture
                        await task
            # From a Qt timer, not from this task: save_screenshot processes events, which may
            # step other tasks (qasync: "Cannot enter into task").
            QTimer.singleShot(0, finish)

        timed = loop.create_task(finish_later(), name="withscope-timed-exit")
    await done.wait()
    if timed is not None and not timed.done():
        timed.cancel()
    for sig in EXIT_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(sig)
    await finish_background_work(loop)
    loop.set_exception_handler(None)
    if signalled:
        return 128 + int(signalled[0])
    # A `--run` that could not start (an unknown target, say) was a message in the window; it is
    # also said here and in the exit status, as `withscope run` does, for scripts and terminals.
    refused = [(spec, why) for spec, why in getattr(getattr(win, "controller", None), "refused", [])
               if spec in options.run]
    for spec, why in refused:
        print(f"withscope: cannot run {spec}: {why}", file=sys.stderr)
    return 2 if refused else 0


EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def handle_signals(loop: asyncio.AbstractEventLoop, win: MainWindow) -> list[int]:
    """SIGINT and SIGTERM close `win` cleanly (see the module docstring). Returns the list the
    first signal received is appended to."""
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            received.append(signum)
            log.info("withscope: %s: closing", signal.Signals(signum).name)
        win.close()

    for sig in EXIT_SIGNALS:
        # NotImplementedError: a loop without signal support; ValueError/RuntimeError: not the
        # main thread (the signals then keep Python's default behaviour).
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
    return received


FILE_WRITING_TASKS = ("withscope-finish-recording", "withscope-save")


async def finish_background_work(loop: asyncio.AbstractEventLoop, timeout_s: float = 30.0) -> None:
    """Wait (bounded) for the tasks that write files and are still going once the window shut
    down - the final write of a recording - so leaving the loop does not cancel them half way."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done() and t.get_name() in FILE_WRITING_TASKS]
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)


def save_screenshot(win: MainWindow, path: str) -> None:
    """Grab the main window (after a last repaint) into `path` (PNG)."""
    win.bridge.tick()
    QApplication.processEvents()
    pm = win.grab()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not pm.save(path):
        win.messages.show_message("error", f"Could not save the screenshot to {path}")
    else:
        print(f"withscope: screenshot saved to {path}")


def run(options: Options) -> int:
    """Create the QApplication, run `main` on a qasync loop, return the exit code."""
    import qasync

    app = create_application()
    th.apply(th.Theme.named(options.theme) if options.theme else th.Theme.system(), app)
    if sys.version_info >= (3, 12):
        return asyncio.run(main(options, app), loop_factory=lambda: qasync.QEventLoop(app))
    return int(qasync.run(main(options, app)))
