"""Staggered redraws (`Frames`), stepped y ranges of the strip charts, and partial timeline repaints."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from withscope.gui.bridge.bridge import Bridge
from withscope.gui.bridge.frames import Frames
from withscope.gui.docks.metrics_dock import nice_step, y_range
from withscope.gui.model.lanes import LaneLayout
from withscope.gui.timeline.timeline_item import TimelineItem


def test_frames_run_at_once_while_not_live() -> None:
    calls: list[str] = []
    frames = Frames(lambda: False)
    frames.request(lambda: calls.append("a"))
    assert calls == ["a"]
    assert frames.pending == 0


def test_frames_run_requests_one_per_slot_in_order_and_once(qtbot: QtBot) -> None:
    calls: list[str] = []

    def a() -> None:
        calls.append("a")

    def b() -> None:
        calls.append("b")

    frames = Frames(lambda: True)
    frames.request(a)
    frames.request(b)
    frames.request(a)  # already pending: runs once, in its first place
    assert calls == []
    assert frames.pending == 2
    qtbot.waitUntil(lambda: len(calls) == 2)
    assert calls == ["a", "b"]
    frames.request(b)
    frames.flush()
    assert calls == ["a", "b", "b"]
    frames.clear()


def test_frames_hold_defers_a_widgets_repaint_to_its_slot(qtbot: QtBot) -> None:
    w = QWidget()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    frames = Frames(lambda: True)
    frames.hold(w)
    assert not w.updatesEnabled()
    assert frames.pending == 1
    qtbot.waitUntil(w.updatesEnabled)
    frames.clear()


def test_nice_steps_and_stepped_y_ranges() -> None:
    assert [nice_step(x) for x in (0.3, 1.0, 1.2, 3.0, 7.0, 42.0)] == [0.5, 1.0, 2.0, 5.0, 10.0, 50.0]
    # GIVEN data in 103..108 MiB THEN edges on a grid of 5, with headroom
    assert y_range(103.2, 107.9, 0.0, 1.0) == (100.0, 110.0)
    # WHEN the data moves inside the range THEN it stays (no axis regeneration)
    assert y_range(104.0, 108.5, 100.0, 110.0) is None
    # WHEN it leaves the range THEN a new one holds it
    lo, hi = y_range(104.0, 111.0, 100.0, 110.0) or (0.0, 0.0)
    assert lo <= 104.0
    assert hi > 111.0
    # WHEN the data shrinks to a small part of the range THEN the range shrinks too
    lo, hi = y_range(3.0, 3.0, 0.0, 100.0) or (0.0, 0.0)
    assert lo <= 3.0 < hi
    assert hi - lo <= 5.0
    # never below zero (counts, percentages); a flat zero series still gets a range
    assert y_range(0.0, 0.0, 5.0, 6.0) == (0.0, 1.0)
    assert y_range(float("nan"), 1.0, 0.0, 1.0) is None


def test_timeline_repaints_only_the_strip_that_changed(qtbot: QtBot) -> None:
    item = TimelineItem(Bridge().store, LaneLayout())
    regions: list[object] = []
    item.update = lambda *args: regions.append(args[0] if args else None)
    item.set_now(5.0)
    item.refresh()
    assert regions[-1] is None  # first refresh: everything
    item.set_now(5.1)
    item.refresh()
    rect = regions[-1]
    assert rect is not None  # only "now" moved: from the old "now" rightwards
    assert 4.9 < rect.left() <= 5.0
    item.set_theme(item.theme)
    regions.clear()
    item.refresh()
    assert regions == [None]  # a new look repaints everything
    assert np.isinf(item._damage_lo)
