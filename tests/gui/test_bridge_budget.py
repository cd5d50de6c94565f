"""The bridge's memory budget: a long run never grows the views' data without bound. Past
`max_rows`, the oldest released lifetimes are counted per kind and second (`Bridge.history`),
open ones and the newest stay, and the views follow the renumbered rows."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from withscope.core import Alert, Recorder, Severity, track
from withscope.gui.bridge.bridge import BUDGET_ENV, MIN_ROWS, ROW_COST, Bridge, Trim
from withscope.gui.docks.alerts_dock import AlertsDock
from withscope.gui.style import theme as th
from withscope.gui.timeline.timeline import TimelineView

OUT_OPEN = -1


class CM:
    def __enter__(self) -> CM:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


def _feed(rec: Recorder, bridge: Bridge, blocks: int, per_tick: int) -> list[int]:
    """`blocks` released lifetimes, `per_tick` between two ticks; the store's size after each."""
    sizes = []
    with rec:
        for i in range(blocks):
            with track(CM(), kind="lock" if i % 2 else "file"):
                pass
            if (i + 1) % per_tick == 0:
                bridge.tick()
                sizes.append(bridge.store.n)
    return sizes


def test_the_store_stays_within_its_budget_and_counts_what_it_took_out() -> None:
    # GIVEN a bridge that keeps at most 1,000 lifetimes, following a run that holds 3 open
    bridge = Bridge()
    bridge.max_rows = 1_000
    rec = Recorder(name="long")
    key = bridge.attach(rec, "long run")
    trims: list[Trim] = []
    bridge.trimmed.connect(trims.append)
    held = [track(CM(), kind="socket", recorder=rec) for _ in range(3)]
    for h in held:
        h.__enter__()
    # WHEN 20,000 released lifetimes arrive, 500 per frame
    sizes = _feed(rec, bridge, 20_000, 500)
    # THEN the store never passes its budget, the open ones and the newest stay, the rest is counted
    assert max(sizes) <= 1_000
    s = bridge.store
    assert trims
    assert bridge.history.total + s.n == 20_003
    assert int(bridge.history.counts.sum()) == bridge.history.total
    assert np.count_nonzero(s.outcome[: s.n] == OUT_OPEN) == 3
    newest = rec.table.count - 1
    assert bridge.store.row_of(key, newest) is not None
    assert bridge.lifetime(bridge.store.row_of(key, newest)).id == newest  # type: ignore[arg-type, union-attr]
    for h in held:
        h.__exit__(None, None, None)
    # the open ones' releases still reach their (renumbered) rows
    bridge.tick()
    assert np.count_nonzero(bridge.store.outcome[: bridge.store.n] == OUT_OPEN) == 0


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUDGET_ENV, "50")
    assert Bridge().max_rows == max(MIN_ROWS, int(50e6 / ROW_COST))
    monkeypatch.setenv(BUDGET_ENV, "not a number")
    assert Bridge().memory_budget_mb > 0
    assert Bridge(memory_budget_mb=10).memory_budget_mb == 10


def test_views_follow_a_trim_and_the_timeline_says_what_was_counted(qtbot: QtBot) -> None:
    th.apply(th.LIGHT)
    bridge = Bridge()
    bridge.max_rows = 1_000
    view = TimelineView(bridge)
    alerts = AlertsDock(bridge)
    qtbot.addWidget(view)
    qtbot.addWidget(alerts)
    rec = Recorder(name="long")
    alerts_seen: list[Alert] = []
    key = bridge.attach(rec, "long run", alerts=lambda: alerts_seen)
    _feed(rec, bridge, 900, 300)
    # an alert about the newest lifetime, then enough lifetimes to trim
    lid = rec.table.count - 1
    alerts_seen.append(Alert("late-release", Severity.INFO, "held", "release it", lid, None, (), None))
    bridge.tick()
    row_before = alerts.model.rows[0].row
    assert row_before == bridge.store.row_of(key, lid)
    _feed(rec, bridge, 400, 400)
    assert bridge.history.total > 0
    view.finish_layout()
    assert view.layout_.n == bridge.store.n
    new_row = bridge.store.row_of(key, lid)
    assert new_row is not None
    assert new_row != row_before
    assert alerts.model.rows[0].row == new_row
    assert new_row in view.item.alert_rows
    assert not view.history_note.isHidden()
    assert f"{bridge.history.total:,} older lifetimes" in view.history_note.text()
    bridge.finish(key)
    bridge.clear()
    assert view.history_note.isHidden()
    assert bridge.history.total == 0
    view.close()
    alerts.close_dock()
    bridge.close()


def test_clear_during_a_long_run_reads_the_columns_and_keeps_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a running run of 5,000 lifetimes (3 open) followed by a bridge that keeps 2,000
    from withscope.core import lifetime_table, snapshot

    bridge = Bridge()
    bridge.max_rows = 2_000
    rec = Recorder(name="long")
    bridge.attach(rec, "long run")
    held = [track(CM(), kind="socket", recorder=rec) for _ in range(3)]
    for h in held:
        h.__enter__()
    _feed(rec, bridge, 5_000, 1_000)
    built = [0]

    def counting(*args: object, **kwargs: object) -> object:
        built[0] += 1
        raise AssertionError("clear() built a Lifetime object")

    monkeypatch.setattr(lifetime_table, "Lifetime", counting)
    monkeypatch.setattr(snapshot, "Lifetime", counting)
    # WHEN the views are cleared while it runs THEN nothing is built per lifetime, and the next
    # tick brings the store back within its budget with the open ones
    bridge.clear()
    assert built == [0]
    assert bridge.store.n <= 2_000
    assert np.count_nonzero(bridge.store.outcome[: bridge.store.n] == OUT_OPEN) == 3
    assert bridge.history.total + bridge.store.n == 5_003
    for h in held:
        h.__exit__(None, None, None)
    bridge.close()
