"""File > Export: the headless exports of `core.exporters` and images of the window's plots.

Chrome trace / CSV / JSON report / HTML report are written from a snapshot of "the current run"
(`recordings.snapshot_for_export`: the open recording, the selected bar's run, or the latest run)
on a worker thread (the loop's executor), with a status message and the written files named
when done. Plot images are taken from the live views on the GUI thread. Every failure is a
message naming the file; nothing here opens a modal dialog.

GUI thread only.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu
from withscope.gui.recordings import file_dialogs
from withscope.gui.recordings.recordings import default_name, snapshot_for_export

if TYPE_CHECKING:
    from withscope.gui.recordings.window import RecordingsFeatures, RecordingsWindow

log = logging.getLogger("withscope")

DATA_FORMATS = (  # (format, menu text, file filter)
    ("chrome", "Chrome trace (Perfetto)…", "Chrome trace JSON (*.json)"),
    ("csv", "CSV tables…", "CSV (*.csv)"),
    ("json", "JSON report…", "JSON (*.json)"),
    ("html", "HTML report…", "HTML (*.html)"),
)
IMAGE_FILTER = "PNG image (*.png);;SVG image (*.svg)"


class ExportActions(QObject):
    def __init__(self, win: RecordingsWindow, features: RecordingsFeatures) -> None:
        assert isinstance(win, QMainWindow)  # the main window: this object's parent, the dialogs' owner
        super().__init__(win)
        self.win = win
        self.features = features
        self.actions: dict[str, QAction] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_written: list[Path] = []  # files of the latest export (tests, status)

    def build_menu(self, menu: QMenu) -> None:
        for fmt, text, _f in DATA_FORMATS:
            a = menu.addAction(text)
            a.setStatusTip(f"Export the current run or recording as {text.rstrip('…')}")
            a.triggered.connect(lambda _c=False, f=fmt: self.win.when_ready(self.ask_export, f))
            self.actions[fmt] = a
        menu.addSeparator()
        for plot, text in (("timeline", "Timeline image…"), ("metrics", "Metrics image…"),
                           ("throughput", "Throughput image…")):
            a = menu.addAction(text)
            a.setStatusTip(f"Save the {plot} plot as PNG or SVG (also: right-click on a plot)")
            a.triggered.connect(lambda _c=False, p=plot: self.win.when_ready(self.ask_plot_image, p))
            self.actions[plot] = a

    # ------------------------------------------------------------------ data exports
    def _current(self) -> tuple[Any, str] | None:
        found = snapshot_for_export(self.win, self.features.runs(), self.features.replay_if_any())
        if found is None:
            self.win.messages.show_message("warning", "Nothing to export yet: run a workload or open a recording.")
        return found

    def ask_export(self, fmt: str) -> None:
        from withscope.core.exporters import SUFFIXES

        found = self._current()
        if found is None:
            return
        snap, _what = found
        flt = next(f for x, _t, f in DATA_FORMATS if x == fmt)
        file_dialogs.save_file(self.win, f"Export as {fmt}", flt, default_name(snap.target, SUFFIXES[fmt]),
                               lambda p: self.export_to(fmt, p), SUFFIXES[fmt].rsplit(".", 1)[-1])

    def export_to(self, fmt: str, path: Path, snapshot: Any = None) -> asyncio.Task[list[Path]]:
        """Export the current run (or `snapshot`) as `fmt` to `path` off the GUI thread."""
        task = asyncio.get_event_loop().create_task(self._export(fmt, Path(path), snapshot), name="withscope-export")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _export(self, fmt: str, path: Path, snapshot: Any) -> list[Path]:
        from withscope.core.exporters import ExportError, export

        what = "the given run"
        if snapshot is None:
            found = self._current()
            if found is None:
                return []
            snapshot, what = found
        self.win.status_running.setText(f"Exporting {what} as {fmt} to {path.name}…")
        try:
            written = await asyncio.get_running_loop().run_in_executor(None, lambda: export(snapshot, fmt, path))
        except ExportError as exc:
            self.win.messages.show_message("error", f"Export failed: {exc}")
            return []
        except Exception as exc:
            log.exception("withscope: export to %s failed", path)
            self.win.messages.show_message("error", f"Export to {path} failed: {type(exc).__name__}: {exc}")
            return []
        finally:
            if not self.win.shut_down:
                self.win.status_running.setText("Idle — pick a workload and press Run")
        self.last_written = written
        names = ", ".join(p.name for p in written)
        self.win.messages.show_message("info", f"Exported {what} to {names} (in {path.parent})")
        return written

    # ------------------------------------------------------------------ images
    def live_item(self, plot: str) -> Any:
        """The window's plot item (or layout) for `plot`, None when that view shows nothing yet."""
        if plot == "timeline":
            return self.win.timeline.plot.getPlotItem()
        dock = self.win.metrics if plot == "metrics" else self.win.throughput
        graphics = getattr(dock, "graphics", None)
        return None if graphics is None else graphics.ci

    def ask_plot_image(self, plot: str) -> None:
        item = self.live_item(plot)
        if item is None:
            self.win.messages.show_message("warning", f"The {plot} view has nothing to save yet.")
            return
        self.ask_item_image(item, "png", plot)

    def ask_item_image(self, item: Any, fmt: str, title: str) -> None:
        flt = IMAGE_FILTER if fmt == "png" else ";;".join(reversed(IMAGE_FILTER.split(";;")))
        file_dialogs.save_file(self.win, f"Save {title} as image", flt, default_name(title, f".{fmt}"),
                               lambda p: self.save_image(item, p), fmt)

    def save_image(self, item: Any, path: Path) -> Path | None:
        from withscope.gui.recordings.plot_export import export_item

        try:
            written = export_item(item, path, None, None)
        except (ValueError, OSError) as exc:
            self.win.messages.show_message("error", f"Cannot save the image {path}: {exc}")
            return None
        self.last_written = [written]
        self.win.messages.show_message("info", f"Saved the plot to {written}")
        return written
