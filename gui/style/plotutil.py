"""Small helpers shared by the plotting views."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QGraphicsItem, QWidget


def own_menus(plot_item: Any, owner: QWidget) -> None:
    """Give pyqtgraph's parentless context menus (ViewBox menu, PlotItem ctrlMenu) a Qt parent, so
    they are destroyed with `owner` instead of living as hidden top-level widgets until Python
    collects their owners."""
    for menu in (getattr(plot_item.getViewBox(), "menu", None), getattr(plot_item, "ctrlMenu", None)):
        if menu is not None and menu.parent() is None:
            menu.setParent(owner, menu.windowFlags())


def cache_axes(plot_item: Any, names: tuple[str, ...] = ("left", "bottom")) -> None:
    """Keep each axis (ticks, labels and its grid lines) in a pixmap between changes.

    pyqtgraph records an axis as a `QPicture` and replays it - text layout included - on every
    paint that touches its bounding rect, which with a grid is the whole plot: one curve update
    replays every axis of the plot. With a device-coordinate cache Qt blits a pixmap instead and
    redraws it only when the axis calls `update()` (range, ticks, size or style changed)."""
    for name in names:
        plot_item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def settle(view: Any) -> None:
    """Apply pending view-box changes (auto range, linked ranges, transforms) now, at the end of a
    frame's updates, instead of in the paint pass: pyqtgraph applies them when the scene is about
    to paint, and changes made there dirty the scene again - a second paint pass right after the
    first. `view` is a `pg.GraphicsView` (PlotWidget, GraphicsLayoutWidget)."""
    view.scene().prepareForPaint()


def mirror_x(follower: Any, leader: Any) -> None:
    """Keep `follower`'s x range equal to `leader`'s (two `pg.ViewBox`es), both ways.

    Not pyqtgraph's `setXLink`: that lines the two views up by their position on screen, so a
    plot narrower than the timeline, beside a table or in a dock behind a tab, showed only the
    part of the time axis above it (after Fit, the second run was missing there). Here the
    range itself is copied: a Fit on the timeline shows every run in every view. A pan or zoom
    in the follower (by the user) moves the leader, which moves every other follower."""

    def from_leader(*_args: object) -> None:
        rng = leader.viewRange()[0]
        if follower.viewRange()[0] != rng:
            follower.setXRange(rng[0], rng[1], padding=0)

    def from_follower(*_args: object) -> None:
        rng = follower.viewRange()[0]
        if leader.viewRange()[0] != rng:
            leader.setXRange(rng[0], rng[1], padding=0)

    leader.sigXRangeChanged.connect(from_leader)
    follower.sigRangeChangedManually.connect(from_follower)
    from_leader()
