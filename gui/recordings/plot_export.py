"""PNG and SVG images of the app's plots (pyqtgraph's `ImageExporter` / `SVGExporter`).

- `export_item(item, path)`: one plot (a `PlotItem`) or a whole layout of plots (a
  `GraphicsLayout`, e.g. every metrics chart) to ``.png`` or ``.svg``.
- `write_plot(snapshot, path, plot=..., width=...)`: the same views the app shows, built offscreen
  from a `RunSnapshot` (a `ReplayFeed` into a private `Bridge`), then exported. `register_formats()`
  registers it with `core.exporters` as ``png`` and ``svg``, so `export(snapshot, "png", ...)` and
  `withscope export REC --format png` work once the GUI layer is loaded.
- `PlotContextMenu`: a right-click (without dragging: right-drag still zooms) on any plot offers
  "Save as PNG / SVG"; it watches the plot views of a window, including ones built later.

GUI thread only; needs a QApplication (offscreen is fine).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMenu, QWidget

if TYPE_CHECKING:
    from withscope.gui.docks.metrics_dock import MetricsDock
    from withscope.gui.docks.throughput_dock import ThroughputDock
    from withscope.gui.timeline.timeline import TimelineView

PLOTS = ("timeline", "metrics", "throughput")
DEFAULT_WIDTH = 1600
DEFAULT_HEIGHT = {"timeline": 700, "metrics": 900, "throughput": 600}
IMAGE_FORMATS = ("png", "svg")
CLICK_SLOP_PX = 4


# ------------------------------------------------------------------------------ library quirks
def _fix_svg_closed_paths() -> None:
    """pyqtgraph 0.14's SVG exporter cannot parse the closed paths Qt >= 6.10 writes ("... Z";
    pyqtgraph issue #3495): strip the close command around its coordinate fix-up, then put it
    back. Idempotent; harmless where pyqtgraph already copes."""
    import sys

    import pyqtgraph.exporters.SVGExporter  # noqa: F401  (the module, not the class of that name)

    mod: Any = sys.modules["pyqtgraph.exporters.SVGExporter"]  # pyqtgraph is untyped
    original = mod.correctCoordinates
    if getattr(original, "_withscope", False):
        return

    def correct(node: Any, defs: Any, item: Any, options: Any) -> Any:
        closed = []
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            if any(t in ("Z", "z") for t in tokens):
                path.setAttribute("d", " ".join(t for t in tokens if t not in ("Z", "z")))
                closed.append(path)
        result = original(node, defs, item, options)
        for path in closed:
            path.setAttribute("d", path.getAttribute("d").rstrip() + " Z")
        return result

    correct._withscope = True  # type: ignore[attr-defined]
    mod.correctCoordinates = correct


# ------------------------------------------------------------------------------ exporting items
def export_item(item: Any, path: str | os.PathLike[str], fmt: str | None = None, width: int | None = None) -> Path:
    """Write `item` (a PlotItem or GraphicsLayout shown in a view) as PNG or SVG; returns the path.

    Raises ValueError for an unknown format or an empty item, OSError when the file cannot be written.
    """
    import pyqtgraph.exporters as pge

    p = Path(path)
    fmt = (fmt or p.suffix.lstrip(".")).lower()
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"{p}: cannot tell the image format: use a .png or .svg file name")
    rect = item.sceneBoundingRect()
    if rect.width() < 1 or rect.height() < 1:
        raise ValueError("the plot has no size yet (is it shown?)")
    if fmt == "png":
        exporter = pge.ImageExporter(item)
        if width:
            exporter.parameters()["width"] = int(width)
        if not exporter.export(str(p)):
            raise OSError(0, "Qt could not write the PNG image", str(p))
    else:
        _fix_svg_closed_paths()
        exporter = pge.SVGExporter(item)
        if width:
            exporter.parameters()["width"] = int(width)
        exporter.export(str(p))
    return p


def exportable_items(view: pg.GraphicsView) -> list[Any]:
    """The plots a pyqtgraph view shows: its PlotItem, or every PlotItem of its layout."""
    if isinstance(view, pg.PlotWidget):
        return [view.getPlotItem()]
    ci = getattr(view, "ci", None)
    if isinstance(ci, pg.GraphicsLayout):
        return [it for it in ci.items if isinstance(it, pg.PlotItem)]
    return []


def item_at(view: pg.GraphicsView, pos: QPoint) -> Any:
    """The PlotItem under `pos` (viewport coordinates), else None."""
    for it in view.scene().items(view.mapToScene(pos)):
        node = it
        while node is not None:
            if isinstance(node, pg.PlotItem):
                return node
            node = node.parentItem()
    return None


# ------------------------------------------------------------------------------ offscreen views
@contextlib.contextmanager
def offscreen_views(snapshot: Any, plot: str, width: int | None = None) -> Iterator[Any]:
    """The app's `plot` view of `snapshot`, laid out offscreen; yields the item to export.

    Raises ValueError when the run has nothing for that plot (no samples, no streams).
    """
    from withscope.gui.bridge.bridge import Bridge
    from withscope.gui.model.replay_feed import ReplayFeed

    if plot not in PLOTS:
        raise ValueError(f"unknown plot {plot!r}; choose one of {', '.join(PLOTS)}")
    feed = ReplayFeed(snapshot)
    bridge = Bridge()
    bridge.clock = lambda: feed.end_ns
    widget: QWidget
    timeline: TimelineView | None = None  # the one of the three views that `plot` names
    metrics: MetricsDock | None = None
    throughput: ThroughputDock | None = None
    if plot == "timeline":
        from withscope.gui.timeline.timeline import TimelineView

        widget = timeline = TimelineView(bridge)
    elif plot == "metrics":
        from withscope.gui.docks.metrics_dock import MetricsDock

        widget = metrics = MetricsDock(bridge)
    else:
        from withscope.gui.docks.throughput_dock import ThroughputDock

        widget = throughput = ThroughputDock(bridge)
    try:
        widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        widget.resize(width or DEFAULT_WIDTH, DEFAULT_HEIGHT[plot])
        rec = feed.recorder_at(feed.end_ns, snapshot.target)
        end = feed.end_ns
        key = bridge.attach(
            rec, snapshot.target, alerts=lambda: feed.alerts_until(end), samples=lambda: feed.samples_until(end)
        )
        bridge.finish(key)
        widget.show()
        QApplication.processEvents()
        if timeline is not None:
            timeline.fit()
            item = timeline.plot.getPlotItem()
        else:
            graphics = getattr(widget, "graphics", None)
            if graphics is None:
                what = "process samples" if plot == "metrics" else "streams"
                raise ValueError(f"the run has no {what}: there is no {plot} plot to export")
            if metrics is not None:
                for p in metrics.plots:
                    p.enableAutoRange(x=True)
            else:
                assert throughput is not None
                graphics.parentWidget().setSizes([widget.width(), 0])  # the plots only, not the table
                throughput.bytes_plot.enableAutoRange(x=True)
            item = graphics.ci
        QApplication.processEvents()
        yield item
    finally:
        bridge.close()
        widget.close()
        widget.deleteLater()
        bridge.deleteLater()


def write_plot(snapshot: Any, out_path: Path, *, plot: str | None = None, width: int | None = None) -> list[Path]:
    """`core.exporters` writer for ``png`` / ``svg`` (the format is the file's suffix)."""
    fmt = out_path.suffix.lstrip(".").lower()
    with offscreen_views(snapshot, plot or "timeline", width) as item:
        return [export_item(item, out_path, fmt, width or DEFAULT_WIDTH)]


def _writer(fmt: str) -> Callable[..., list[Path]]:
    def write(snapshot: Any, out_path: Path, *, plot: str | None = None, width: int | None = None) -> list[Path]:
        path = out_path if out_path.suffix.lower() == f".{fmt}" else out_path.with_name(out_path.name + f".{fmt}")
        return write_plot(snapshot, path, plot=plot, width=width)

    return write


def register_formats() -> None:
    """Make ``png`` and ``svg`` available to `withscope.core.exporters.export`."""
    from withscope.core import exporters

    for fmt in IMAGE_FORMATS:
        exporters.register(fmt, _writer(fmt))


# ------------------------------------------------------------------------------ right-click menu
class PlotContextMenu(QObject):
    """Right-click on a plot view of `root` -> "Save as PNG / SVG". `on_export(item, fmt, title)`
    asks where and writes. `watch(root)` again after new plot views appear (cheap, idempotent)."""

    def __init__(self, root: QWidget, on_export: Callable[[Any, str, str], None]) -> None:
        super().__init__(root)
        self.root = root
        self.on_export = on_export
        self._watched: set[int] = set()
        self._press: tuple[QObject, QPoint] | None = None
        self.menu: QMenu | None = None
        self.watch(root)

    def watch(self, root: QWidget | None = None) -> int:
        """Watch every pyqtgraph view under `root`; returns how many are watched."""
        for view in (root or self.root).findChildren(pg.GraphicsView):
            vp = view.viewport()
            if id(vp) not in self._watched:
                self._watched.add(id(vp))
                vp.installEventFilter(self)
        return len(self._watched)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt API
        t = event.type()
        if t == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            if event.button() == Qt.MouseButton.RightButton:
                self._press = (obj, event.position().toPoint())
        elif t == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            press, self._press = self._press, None
            if (
                event.button() == Qt.MouseButton.RightButton
                and press is not None
                and press[0] is obj
                and (event.position().toPoint() - press[1]).manhattanLength() <= CLICK_SLOP_PX
            ):
                view = obj.parent() if isinstance(obj, QWidget) else None
                if isinstance(view, pg.GraphicsView):
                    self.popup(view, event.position().toPoint(), event.globalPosition().toPoint())
        return False

    def build_menu(self, view: pg.GraphicsView, pos: QPoint) -> QMenu:
        """The menu for a right-click at `pos` (viewport coordinates) of `view`."""
        menu = QMenu(self.root)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        items = exportable_items(view)
        here = item_at(view, pos) or (items[0] if len(items) == 1 else None)
        title = view.window().windowTitle() or "plot"

        def export(it: Any, f: str) -> Callable[[], None]:
            return lambda: self.on_export(it, f, title)

        if here is not None:
            for fmt in IMAGE_FORMATS:
                menu.addAction(f"Save this plot as {fmt.upper()}…", export(here, fmt))
        if len(items) > 1 and isinstance(getattr(view, "ci", None), pg.GraphicsLayout):
            menu.addSeparator()
            for fmt in IMAGE_FORMATS:
                menu.addAction(f"Save all {len(items)} plots as {fmt.upper()}…", export(view.ci, fmt))
        return menu

    def popup(self, view: pg.GraphicsView, pos: QPoint, global_pos: QPoint) -> None:
        if self.menu is not None:
            with contextlib.suppress(RuntimeError):
                self.menu.close()
        self.menu = self.build_menu(view, pos)
        if not self.menu.isEmpty():
            self.menu.popup(global_pos)
