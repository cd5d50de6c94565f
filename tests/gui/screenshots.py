"""Render the README's screenshots on the display in $DISPLAY (`python3 dev.py screenshots` starts
an Xvfb for it): the whole window after `class-cm/faulty` (timeline, alerts, details, process
metrics), the process metrics dock, the streaming throughput dock after `accumulation/faulty`, and
the console after a script run with arguments from "Open target…", with that dialog. Name some of
`window`, `throughput`, `console` to render only those. The tour's screenshot comes from
`withscope demo --screenshot`. Not a test: a tool."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import withscope.gui  # noqa: F401  (pins PySide6 before pyqtgraph/qasync are imported)
from PySide6.QtWidgets import QApplication
from qt_helpers import close_window, until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


SHOTS = ("window", "throughput", "console")

# The program of the console's screenshot: a script with arguments that prints, warns and leaks.
TOOL = """\
import argparse, sys, tempfile, time
from withscope.core import track

parser = argparse.ArgumentParser()
parser.add_argument("--workers", type=int, default=1)
parser.add_argument("paths", nargs="+")
args = parser.parse_args()
print(f"tool.py: {args.workers} workers, {len(args.paths)} inputs")
cache = []
for i, path in enumerate(args.paths):
    with track(open(path), label=path) as f:
        words = len(f.read().split())
    print(f"  {path}: {words} words")
    cache.append(track(tempfile.TemporaryFile(), kind="file", label=f"cache-{i}"))  # never closed
    time.sleep(0.2)
print("warning: the cache files are never closed", file=sys.stderr)
print("done")
"""


async def shoot(app: QApplication, only: set[str] = set(SHOTS)) -> None:  # noqa: B006 (read only)
    from withscope.core import workloads
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.style import theme as th

    win = MainWindow(patterns=[(p, t, list(ws)) for p, t, ws in workloads.patterns()])
    win.resize(1680, 1000)
    th.apply(th.LIGHT)
    win.show()
    win.start()

    async def run(names: list[str]) -> None:
        win.catalogue.select(names)
        win.catalogue.request_run()
        await until(lambda: not win.controller.is_running(), 60, "the runs")
        await asyncio.sleep(0.8)  # the last frames and the metrics' next samples

    def save(widget: object, name: str) -> None:
        win.bridge.tick()
        pm = widget.grab()  # type: ignore[attr-defined]
        path = ASSETS / name
        if not pm.save(str(path)):
            sys.exit(f"could not save {path}")
        print(f"saved {path} ({pm.width()}x{pm.height()})")

    def widen_bottom_right() -> None:
        """The metrics/throughput tabs as the user would drag them for a closer look: most of the
        bottom row, taller (their shots are of the dock alone)."""
        from PySide6.QtCore import Qt

        win.resizeDocks([win.alerts, win.metrics], [420, 1100], Qt.Orientation.Horizontal)
        win.resizeDocks([win.metrics], [440], Qt.Orientation.Vertical)

    if "window" in only:
        await run(["class-cm/faulty"])
        win.alerts.select_row(0)
        await asyncio.sleep(0.3)
        save(win, "screenshot.png")
        widen_bottom_right()
        await asyncio.sleep(0.5)
        save(win.metrics, "screenshot-metrics.png")
        win.clear()
    if "throughput" in only:
        await run(["accumulation/faulty", "accumulation/correct"])
        win.throughput.raise_()
        win.fit_timeline()
        await asyncio.sleep(0.5)
        save(win.throughput, "screenshot-throughput.png")
        win.clear()
    if "console" in only:
        await shoot_console(win, save)
    await close_window(win)


async def shoot_console(win: Any, save: Any) -> None:
    """A script with arguments and a working folder, run from "Open target…"."""
    import tempfile

    win.reset_layout()
    await asyncio.sleep(0.3)
    with tempfile.TemporaryDirectory(prefix="withscope-shot-") as where:
        folder = Path(where)
        (folder / "tool.py").write_text(TOOL)
        for name, text in (("notes.txt", "withscope shows resource lifetimes " * 40),
                           ("todo.txt", "close the files you open " * 25)):
            (folder / name).write_text(text)
        win.open_target()
        dlg = win._dialog
        dlg.set_fields({"target": "tool.py", "args": "--workers 2 notes.txt todo.txt", "cwd": str(folder)})
        await asyncio.sleep(0.3)
        save(dlg, "screenshot-open-target.png")
        dlg.accept()  # Run
        await until(lambda: not win.controller.is_running(), 60, "the script")
        await asyncio.sleep(0.8)
        win.console.raise_()
        win.alerts.select_row(0)
        win.fit_timeline()
        await asyncio.sleep(0.5)
        save(win, "screenshot-console.png")


def main() -> int:
    import qasync

    app = QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    only = set(sys.argv[1:]) or set(SHOTS)
    unknown = only - set(SHOTS)
    if unknown:
        sys.exit(f"unknown screenshot(s): {', '.join(sorted(unknown))}; choose from {', '.join(SHOTS)}")
    loop.run_until_complete(shoot(app, only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
