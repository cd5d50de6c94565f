"""Timeline cache: closed bars are rendered once into layers that later paints extend or shift.

Each test renders, changes the data or the view, renders again, and checks the picture against
what a full render (cache dropped) of the same state shows - plus the pixels a person would look at.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot
from test_timeline import add_rows, close_to, make_view, pixel_of
from withscope.gui.bridge.bridge import Bridge, LifetimeDelta
from withscope.gui.style import theme as th
from withscope.gui.timeline.timeline import TimelineView


def render(view: TimelineView) -> QImage:
    return view.grab().toImage()


def full_render(view: TimelineView) -> QImage:
    view.item.invalidate()
    return render(view)


def same(a: QImage, b: QImage) -> bool:
    return a.size() == b.size() and bytes(a.constBits()) == bytes(b.constBits())


def release(bridge: Bridge, rows: list[int], ends: list[float], outcomes: list[int]) -> None:
    """Close open rows the way a bridge tick does: end/outcome updated, one delta with `updated`."""
    s = bridge.store
    r = np.array(rows, np.int64)
    s.end[r] = ends
    s.outcome[r] = outcomes
    s.note_ends(np.array(ends, float))
    bridge.lifetimesChanged.emit(LifetimeDelta(s.n, s.n, r))


def dense_rows(bridge: Bridge, n: int, t0: float, t1: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(t0, t1, n))
    ends = starts + rng.exponential(0.02, n)
    ends[::7] += rng.uniform(0.5, 2.0, len(ends[::7]))  # some wide bars among the sub-pixel ones
    outcomes = rng.choice([0, 0, 0, 1, 2, 3], n)
    kinds = rng.choice(["file", "socket", "lock"], n)
    add_rows(bridge, 0, starts.tolist(), ends.tolist(), outcomes.tolist(), kinds.tolist())


def test_bars_appended_after_a_paint_are_drawn_into_the_cache(qtbot: QtBot) -> None:
    # GIVEN a rendered timeline of 3,000 closed bars
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    view.set_follow(False)
    dense_rows(bridge, 3000, 0.0, 10.0, seed=1)
    view.plot.getViewBox().setRange(xRange=(0, 20), yRange=(-0.5, view.layout_.total_height + 3), padding=0)
    render(view)
    renders = view.item.renders
    # WHEN more bars arrive, later in time and in a lane of a new kind
    dense_rows(bridge, 2000, 10.0, 18.0, seed=2)
    add_rows(bridge, 0, [12.0], [16.0], [0], ["db.connection"])
    image = render(view)
    # THEN the cache was extended, not rebuilt, and shows exactly what a full render shows
    assert view.item.renders == renders
    assert same(image, full_render(view))
    # and the new kind's bar is there, in its (muted) colour
    # (rows are ~4 px tall here: a bar covers whole pixels of its row, not always its middle one)
    row = bridge.store.n - 1
    down_the_row = [pixel_of(view, image, 14.0, float(view.layout_.y[row]) + dy) for dy in (0.2, 0.35, 0.5, 0.65, 0.8)]
    assert any(not close_to(got, QColor(th.LIGHT.plot_background), 20) and not close_to(got, QColor(th.LIGHT.band), 20)
               for got in down_the_row), [c.name() for c in down_the_row]


def test_pan_by_whole_pixels_shifts_the_cache_and_zoom_rebuilds_it(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    view.set_follow(False)
    dense_rows(bridge, 4000, 0.0, 30.0, seed=3)
    vb = view.plot.getViewBox()
    y_range = (-0.5, view.layout_.total_height + 0.2)
    vb.setRange(xRange=(5.0, 15.0), yRange=y_range, padding=0)
    render(view)
    renders = view.item.renders
    px = 10.0 / vb.width()  # seconds per pixel
    for k in (37, -53, 120):  # WHEN panning later, earlier, then far later by whole pixels
        x0 = vb.viewRange()[0][0] + k * px
        vb.setRange(xRange=(x0, x0 + 10.0), padding=0)
        shifted = render(view)
        # THEN the cached layers were shifted (no full render) and match a full render
        assert view.item.renders == renders
        assert same(shifted, full_render(view))
        renders = view.item.renders
    # WHEN zooming, THEN the layers are rebuilt
    vb.setRange(xRange=(6.0, 11.0), padding=0)
    zoomed = render(view)
    assert view.item.renders == renders + 1
    assert same(zoomed, full_render(view))


def test_a_released_bar_leaves_the_live_overlay_for_the_cache_in_its_outcome_style(qtbot: QtBot) -> None:
    # GIVEN an open "file" bar next to a closed one, rendered while open
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    view.set_follow(False)
    add_rows(bridge, 0, [1.0, 0.5], [np.nan, 2.0], [-1, 0], ["file", "file"])
    view.item.set_now(8.0)
    view.plot.getViewBox().setRange(xRange=(0, 10), yRange=(-0.5, 4), padding=0)
    y = float(view.layout_.y[0]) + 0.5
    file_colour = th.kind_colour("file")
    before = render(view)
    renders = view.item.renders
    assert close_to(pixel_of(view, before, 6.0, y), file_colour, 10)  # solid, grown to "now"
    # WHEN it is released on error at t=4
    release(bridge, [0], [4.0], [1])
    after = render(view)
    # THEN it ends at 4 s (nothing drawn where it used to grow), in the muted error style,
    # drawn into the existing cache
    assert view.item.renders == renders
    assert not close_to(pixel_of(view, after, 6.0, y), file_colour, 60)
    body = pixel_of(view, after, 2.5, y)
    assert not close_to(body, file_colour, 10)
    assert not close_to(body, QColor(th.LIGHT.plot_background), 10)
    px_s = 10.0 / view.plot.getViewBox().width()  # seconds per pixel
    cap = pixel_of(view, after, 4.0 - 1.5 * px_s, y)  # the red accent cap at its end
    assert cap.red() > 180
    assert cap.green() < 140
    assert same(after, full_render(view))


def test_a_released_sub_pixel_bar_is_aggregated_with_its_outcome_priority(qtbot: QtBot) -> None:
    # GIVEN many released sub-pixel bars in one lane, and one open bar among them
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    view.set_follow(False)
    starts = np.arange(0, 100, 0.01)
    at = int(np.searchsorted(starts, 47.305))
    starts = np.insert(starts, at, 47.305)  # (away from the grid lines)
    ends = starts + 0.001
    ends[at] = np.nan
    outcomes = np.zeros(len(starts), int)
    outcomes[at] = -1
    add_rows(bridge, 0, starts.tolist(), ends.tolist(), outcomes.tolist(), ["lock"] * len(starts))
    assert view.layout_.row[at] == 0  # it shares the lane (and pixel column) with released bars
    view.item.set_now(47.306)
    view.plot.getViewBox().setRange(xRange=(0, 100), yRange=(-0.5, 4), padding=0)
    render(view)
    renders = view.item.renders
    # WHEN the open one is released with an error (a sub-pixel bar that must not be hidden)
    row = at
    release(bridge, [row], [47.306], [1])
    image = render(view)
    # THEN its pixel column shows the error accent, not the muted released colour
    got = pixel_of(view, image, 47.305, float(view.layout_.y[row]) + 0.5)
    assert QColor(th.OUTCOME_ACCENT[th.OUT_ERROR]).rgb() == got.rgb()
    assert view.item.renders == renders
    assert same(image, full_render(view))


def test_follow_mode_scrolls_by_whole_pixels_and_keeps_the_cache(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    dense_rows(bridge, 3000, 0.0, 30.0, seed=4)
    assert view.follow
    view._follow()
    render(view)
    renders = view.item.renders
    for t in (30.3, 30.9, 31.4):  # WHEN newer bars arrive and the view follows them
        add_rows(bridge, 0, [t - 0.2], [t], [0], ["file"])
        view._follow()
        image = render(view)
        # THEN each step shifted the cache by whole pixels; the picture is still exact
        assert view.item.renders == renders
        assert same(image, full_render(view))
        renders = view.item.renders
    (x0, x1), _ = view.plot.getViewBox().viewRange()
    assert x0 < 31.4 <= x1


def test_a_huge_batch_is_laid_out_over_several_loop_turns(qtbot: QtBot) -> None:
    bridge = Bridge()
    view = make_view(qtbot, bridge)
    n = 120_000
    starts = np.sort(np.random.default_rng(5).uniform(0, 100, n))
    s = bridge.store
    lo, hi = s.append(0, np.arange(n, dtype=np.int64), starts, starts + 0.05, np.zeros(n, np.int8),
                      np.zeros(n, np.int16) + s.kind_id("file"))
    bridge.lifetimesChanged.emit(LifetimeDelta(lo, hi, np.zeros(0, np.int64)))
    # THEN the first slice is placed at once, the rest on later loop turns, without overlaps
    assert 0 < view.layout_.n <= n
    qtbot.waitUntil(lambda: view.layout_.n == n, timeout=20_000)
    rows = view.layout_.row[:n]
    for r in np.unique(rows):
        idx = np.flatnonzero(rows == r)
        assert (starts[idx][1:] >= starts[idx][:-1] + 0.05).all()
