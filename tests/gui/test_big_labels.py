"""Labels of any size are shown elided - in the details, the tooltip and the alerts table - so
Qt never lays out a megabyte of text (a 1 MB label froze the app for good)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from qt_helpers import close_window, until
from withscope.gui.model.textcap import elide, elide_lines

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

TARGETS = Path(__file__).resolve().parent / "label_targets.py"


def test_elide_keeps_the_start_and_says_how_long_the_whole_was() -> None:
    assert elide("short") == "short"
    out = elide("x" * 1_000_000, 100)
    assert len(out) < 140
    assert out.startswith("x" * 99 + "…")
    assert "1,000,000 characters" in out
    lines = elide_lines(["a" * 10_000] * 500, 50, 10)
    assert len(lines) == 11
    assert lines[-1] == "… 490 more lines"


@pytest.mark.parametrize(("name", "n"), [("big_label", 1), ("many_labels", 10)])
def test_huge_labels_reach_no_widget_whole(
    window: MainWindow, loop: asyncio.AbstractEventLoop, name: str, n: int
) -> None:
    seen: dict[str, object] = {}

    async def scenario() -> None:
        assert window.controller.start(f"{TARGETS}:{name}")
        await until(lambda: not window.controller.is_running(), 30, "the run to end")
        await until(lambda: window.alerts.model.rowCount() >= n, 10, "the alerts")
        window.alerts.select_row(0)
        seen["details"] = window.details.view.toPlainText()
        model = window.alerts.model
        seen["cells"] = [model.data(model.index(r, c), role)
                         for r in range(model.rowCount()) for c in range(model.columnCount())
                         for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)]
        seen["tooltips"] = [window.timeline.describe(r) for r in range(window.bridge.store.n)]
        await close_window(window)

    loop.run_until_complete(scenario())
    assert len(seen["details"]) < 5_000  # type: ignore[arg-type]
    cells = [c for c in seen["cells"] if isinstance(c, str)]  # type: ignore[attr-defined]
    assert cells
    assert max(len(c) for c in cells) < 2_000
    assert any("characters)" in c for c in cells)
    assert max(len(t) for t in seen["tooltips"]) < 2_000  # type: ignore[attr-defined]
