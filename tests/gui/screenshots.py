"""Render the README's screenshots on the display in $DISPLAY (`python3 dev.py screenshots` starts
an Xvfb for it): the whole window after `class-cm/faulty` (timeline, alerts, details, process
metrics), the process metrics dock, and the streaming throughput dock after `accumulation/faulty`.
The tour's screenshot comes from `withscope demo --screenshot`. Not a test: a tool."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import withscope.gui  # noqa: F401  (pins PySide6 before pyqtgraph/qasync are imported)
from PySide6.QtWidgets import QApplication
from qt_helpers import close_window, until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


async def shoot(app: QApplication) -> None:
    from withscope.core import workloads
    from withscope.gui import theme as th
    from withscope.gui.main_window import MainWindow

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

    await run(["class-cm/faulty"])
    win.alerts.select_row(0)
    await asyncio.sleep(0.3)
    save(win, "screenshot.png")
    widen_bottom_right()
    await asyncio.sleep(0.5)
    save(win.metrics, "screenshot-metrics.png")
    win.clear()
    await run(["accumulation/faulty", "accumulation/correct"])
    win.throughput.raise_()
    win.fit_timeline()
    await asyncio.sleep(0.5)
    save(win.throughput, "screenshot-throughput.png")
    await close_window(win)


def main() -> int:
    import qasync

    app = QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.run_until_complete(shoot(app))
    return 0


if __name__ == "__main__":
    sys.exit(main())
