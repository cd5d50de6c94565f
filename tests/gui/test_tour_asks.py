"""F1 (Start the tour) asks before the tour clears the runs on screen - a non-modal question -
and Cancel keeps them (it used to wipe every run silently)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QApplication, QMessageBox
from qt_helpers import close_window, present, until

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

TARGET = "class-cm/correct"


def _question(win: Any) -> QMessageBox | None:
    boxes = [w for w in win.findChildren(QMessageBox) if w.isVisible()]
    return boxes[0] if boxes else None


def _press(box: QMessageBox, text: str) -> None:
    (button,) = [b for b in box.buttons() if text in b.text()]
    button.click()


def test_f1_asks_before_clearing_runs_and_cancel_keeps_them(
    window: MainWindow, loop: asyncio.AbstractEventLoop
) -> None:
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        w = window
        # GIVEN a finished run on screen
        w.run_workloads([TARGET], 1)
        await until(lambda: w.bridge.runs() and not w.controller.is_running(), 30, "the run to end")
        await until(lambda: w.bridge.store.n > 0, 5, "its lifetimes")
        n = w.bridge.store.n
        # WHEN the user presses F1
        w.features.actions["start_tour"].trigger()
        await asyncio.sleep(0.3)
        box = _question(w)
        seen["asked"] = box is not None and "1 run on screen" in box.text()
        seen["modal_loop"] = QApplication.activeModalWidget() in (None, box)  # opened, not exec()'d
        seen["kept_while_asking"] = w.bridge.store.n == n and w.features._tours is None
        # AND cancels: the run stays, no tour
        assert box is not None
        _press(box, "Cancel")
        await asyncio.sleep(0.3)
        seen["kept_after_cancel"] = w.bridge.store.n == n and len(w.bridge.runs()) == 1
        seen["no_tour"] = w.features._tours is None or w.features._tours.tour is None
        # WHEN asked again and confirmed: the tour starts and clears the views
        w.features.actions["start_tour"].trigger()
        await asyncio.sleep(0.2)
        box = _question(w)
        assert box is not None
        _press(box, "Clear and start")
        await until(lambda: w.features._tours is not None and w.features._tours.tour is not None, 5, "the tour")
        seen["tour"] = present(present(w.features._tours).tour).name
        await close_window(w)

    loop.run_until_complete(scenario())
    assert seen["asked"]
    assert seen["modal_loop"]
    assert seen["kept_while_asking"]
    assert seen["kept_after_cancel"]
    assert seen["no_tour"]
    assert seen["tour"] == "catalogue"


def test_f1_on_an_empty_window_starts_at_once(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> None:
        window.features.actions["start_tour"].trigger()
        await asyncio.sleep(0.2)
        assert _question(window) is None
        assert window.features.tours.tour is not None
        await close_window(window)

    loop.run_until_complete(scenario())
