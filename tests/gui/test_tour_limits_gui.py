"""A tour whose narration the panel cannot show opens as a short error, at once (a 300 kB
narration hung `withscope demo` for 72 s, 5 MB for good)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qt_helpers import close_window, present

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow


def test_a_tour_with_a_huge_narration_is_an_error_not_a_hang(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "big", "title": "Big", "description": "d", "steps": [
        {"title": "t", "narration": "word " * 10_000, "focus": "timeline"}]}))
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        player = window.features.tours
        seen["ok"] = player.open(str(big))
        seen["error"] = present(player.panel).error.text()
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["ok"] is False
    assert "steps[0].narration: 50,000 characters" in seen["error"]
    assert len(seen["error"]) < 1000
