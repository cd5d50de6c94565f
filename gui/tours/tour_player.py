"""Tour mode: plays a `core.tours.Tour` in the main window.

`TourPlayer.open(name_or_path)` loads a tour (a malformed or unknown one is shown as an error in
the tour panel, naming the file and each problem) and goes to its first step. Entering a step:
a replay is closed, runs still going from the previous step are stopped and awaited, the views
are cleared, the step's workloads are started through the window's own run machinery
(`MainWindow.run_workloads`, i.e. `RunController`), and the `Highlighter` points at the step's
focus. When the step's runs have finished, the rule's alert is selected; with Auto-play on, the
next step comes after the pace (`wait_s` of the step, else the pace setting). Presenter mode
scales the application font (and the plots' axis fonts) by the tour's ``font_scale`` (at least
1.4x).

`request_at_start(...)` is how `withscope demo` asks the next main window to open a tour once
the app runs. GUI thread only; tasks are held strongly and stopped by `shutdown()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QMainWindow
from withscope.core.tours import Tour, TourError, TourStep, find_tour, tour_paths
from withscope.gui.tours.tour_highlight import Highlighter
from withscope.gui.tours.tour_panel import NARRATION_SCALE, TITLE_SCALE, TourPanel

if TYPE_CHECKING:
    from withscope.gui.tours.window import TourFeatures, TourWindow

log = logging.getLogger("withscope")

PRESENTER_MIN_SCALE = 1.4
AXIS_SHARE = 0.5  # plot time axes grow by this share of the presenter scale
PRESENTER_MARK = "/* withscope presenter mode */"
STOP_WAIT_S = 20.0
TOUR_SIDE_PX = (280, 420)  # the tour panel's and the details' widths while a tour is open (least, most)


@dataclass(frozen=True, slots=True)
class DemoRequest:
    tour: str | None  # name or path (None: the built-in tour)
    presenter: bool = False
    autoplay: bool = False


_pending: DemoRequest | None = None


def request_at_start(request: DemoRequest) -> None:
    """Ask the next `TourPlayer` created (the app's main window) to open this tour."""
    global _pending
    _pending = request


def take_request() -> DemoRequest | None:
    global _pending
    req, _pending = _pending, None
    return req


def available_tours() -> list[tuple[str, str]]:
    """(name, "title (name)") of every tour file found (read cheaply: no validation here; a
    malformed file is reported when it is opened)."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for p in tour_paths():
        if p.stem in seen:
            continue
        seen.add(p.stem)
        out.append((p.stem, _quick_title(p)))
    return out


def _quick_title(path: Path) -> str:
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        title = doc.get("title") if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return f"{path.name} (malformed)"
    return f"{title} ({path.stem})" if isinstance(title, str) and title.strip() else path.stem


class TourPlayer(QObject):
    def __init__(self, win: TourWindow, features: TourFeatures | None = None) -> None:
        assert isinstance(win, QMainWindow)  # the main window: this object's parent, the panel's host
        super().__init__(win)
        self.win = win
        self.features = features
        self.tour: Tour | None = None
        self.index = -1
        self.playing = False
        self.pace_s = 8.0
        self.presenter = False
        self.step_keys: set[int] = set()
        self.step_done = False
        self.panel: TourPanel | None = None
        self.highlighter = Highlighter(win)
        self.last_error: str | None = None
        self._token = 0
        self._task: asyncio.Task[None] | None = None
        self._base_font: QFont | None = None
        self._axis_fonts: list[tuple[Any, QFont | None]] = []
        self._advance = QTimer(self)
        self._advance.setSingleShot(True)
        self._advance.timeout.connect(self._auto_next)
        self.advance_due: float | None = None  # monotonic time of the next auto-play step
        win.controller.runFinished.connect(self._on_run_finished)
        from withscope.gui.style import theme as th

        th.notifier().changed.connect(self._apply_presenter_sheet)

    # ------------------------------------------------------------------ panel
    def ensure_panel(self) -> TourPanel:
        if self.panel is None:
            panel = TourPanel(self.win)
            self.win.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, panel)
            self.win.splitDockWidget(panel, self.win.catalogue, Qt.Orientation.Vertical)
            self.fit_panel(panel)
            panel.backRequested.connect(self.back)
            panel.nextRequested.connect(self.next)
            panel.playToggled.connect(self.set_playing)
            panel.paceChanged.connect(self.set_pace)
            panel.presenterToggled.connect(self.set_presenter)
            panel.tourChosen.connect(self.open)
            panel.openFileRequested.connect(self.ask_file)
            panel.set_pace(self.pace_s)
            panel.visibilityChanged.connect(self._on_panel_visibility)
            action = getattr(self.features, "actions", {}).get("tour_panel")
            if action is not None:
                panel.visibilityChanged.connect(action.setChecked)
            self.panel = panel
        self.panel.set_tours(available_tours(), self.tour.name if self.tour else None)
        return self.panel

    def fit_panel(self, panel: TourPanel) -> None:
        """The tour panel over the catalogue, ~2/3 of the left column's height; the left column
        and the details each ~a quarter of the window, so the timeline the steps point at keeps
        about half of it (a fixed 400 px panel left a 1,088 px window's timeline 250 px wide, its
        legend wrapped into seven rows)."""
        win = self.win
        w, h = win.width(), win.height()
        side = max(TOUR_SIDE_PX[0], min(TOUR_SIDE_PX[1], round(w * 0.24)))
        win.resizeDocks([panel, win.catalogue], [round(h * 0.62), round(h * 0.3)], Qt.Orientation.Vertical)
        details = getattr(win, "details", None) or win._dock("details")
        win.resizeDocks([panel, details], [side, side], Qt.Orientation.Horizontal)

    def _on_panel_visibility(self, visible: bool) -> None:
        """Closed (not just covered by another tab), the panel hands the left column back to the
        catalogue at its usual width: else the window kept the tour's width - and saved it."""
        panel = self.panel
        if visible or panel is None or not panel.isHidden() or self.win.catalogue.isHidden():
            return
        width = self.win.dock_sizes(self.win.width(), self.win.height())["catalogue"]
        self.win.resizeDocks([self.win.catalogue], [width], Qt.Orientation.Horizontal)

    def show_panel(self) -> TourPanel:
        panel = self.ensure_panel()
        panel.show()
        panel.raise_()
        panel.body.setFocus(Qt.FocusReason.OtherFocusReason)
        return panel

    def ask_file(self) -> None:
        from withscope.gui.recordings import file_dialogs

        file_dialogs.open_file(self.win, "Open a tour file", "Tours (*.json);;All files (*)",
                               lambda p: self.features.start_tour(str(p)) if self.features is not None
                               else self.open(str(p)))

    # ------------------------------------------------------------------ loading
    def open(self, spec: str | None = None, *, presenter: bool | None = None, autoplay: bool | None = None) -> bool:
        """Open a tour by name or path (None: the built-in tour). False (error shown) if it cannot."""
        panel = self.show_panel()
        try:
            tour = find_tour(spec)
        except TourError as exc:
            self.last_error = str(exc)
            panel.show_error(str(exc))
            self.win.messages.show_message("error", f"Cannot open the tour: {str(exc).splitlines()[0]}")
            return False
        except Exception as exc:  # never crash the app on a tour file
            log.exception("withscope: loading tour %s failed", spec)
            self.last_error = f"{spec}: {exc!r}"
            panel.show_error(self.last_error)
            return False
        self.load(tour, presenter=presenter, autoplay=autoplay)
        return True

    def load(self, tour: Tour, *, presenter: bool | None = None, autoplay: bool | None = None) -> None:
        self.stop_step()
        self.tour = tour
        self.last_error = None
        panel = self.show_panel()
        panel.set_tours(available_tours(), tour.name)
        self.set_pace(tour.presenter.pace_s)
        self.set_presenter(bool(presenter) or self.presenter)
        self.go(0)
        self.set_playing(tour.presenter.auto_play if autoplay is None else autoplay)

    # ------------------------------------------------------------------ navigation
    def go(self, index: int) -> None:
        tour = self.tour
        if tour is None or not 0 <= index < len(tour.steps):
            return
        self.stop_step()
        self.index = index
        step = tour.steps[index]
        panel = self.show_panel()
        panel.show_step(tour, index, step)
        self.step_done = False
        self._token += 1
        self._task = asyncio.get_event_loop().create_task(self._enter(self._token, step), name="withscope-tour-step")
        self._task.add_done_callback(self._task_done)

    def next(self) -> None:
        if self.tour is not None and self.index < len(self.tour.steps) - 1:
            self.go(self.index + 1)

    def back(self) -> None:
        if self.index > 0:
            self.go(self.index - 1)

    async def _enter(self, token: int, step: TourStep) -> None:
        win = self.win
        replay = self.features.replay_if_any() if self.features is not None else None
        if replay is not None and replay.active:
            replay.close(clear=True)
        if win.controller.is_running():
            self.panel_status("stopping the previous runs…")
            idle = asyncio.Event()
            slot = idle.set
            win.controller.idle.connect(slot)
            try:
                win.stop_all()
                if win.controller.is_running():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(idle.wait(), STOP_WAIT_S)
            finally:
                win.controller.idle.disconnect(slot)
        if token != self._token:
            return
        win.clear()
        self.highlighter.focus(step.focus)
        if step.workloads:
            names = list(step.workloads)
            before = set(win.controller.entries)
            win.catalogue.select(names)
            win.run_workloads(names, step.repeat)
            self.step_keys = set(win.controller.entries) - before
            if self.step_keys:
                self.panel_status("running…")
                return
        self._finish_step()

    def _on_run_finished(self, key: int, *_args: object) -> None:
        if key in self.step_keys:
            self.step_keys.discard(key)
            if not self.step_keys and not self.step_done:
                self._finish_step()

    def _finish_step(self) -> None:
        self.step_done = True
        tour = self.tour
        if tour is None:
            return
        step = tour.steps[self.index]
        if step.workloads:
            self.panel_status("finished")
        self.highlighter.after_runs()
        self._schedule_advance()

    def _schedule_advance(self) -> None:
        self._advance.stop()
        self.advance_due = None
        tour = self.tour
        if not self.playing or tour is None or not self.step_done:
            return
        if self.index >= len(tour.steps) - 1:
            self.set_playing(False)
            self.win.messages.show_message("info", f"End of the tour “{tour.title}”.")
            return
        step = tour.steps[self.index]
        pace = step.wait_s if step.wait_s is not None else self.pace_s
        self.advance_due = time.monotonic() + pace
        self._advance.start(max(0, int(pace * 1000)))

    def _auto_next(self) -> None:
        self.advance_due = None
        if self.playing:
            self.next()

    def panel_status(self, text: str) -> None:
        if self.panel is not None:
            self.panel.set_status(text)

    # ------------------------------------------------------------------ settings
    def set_playing(self, on: bool) -> None:
        self.playing = bool(on) and self.tour is not None
        if self.panel is not None:
            self.panel.set_playing(self.playing)
        if self.playing:
            self._schedule_advance()
        else:
            self._advance.stop()
            self.advance_due = None

    def set_pace(self, seconds: float) -> None:
        self.pace_s = float(seconds)
        if self.panel is not None:
            self.panel.set_pace(self.pace_s)
        if self.playing and self.step_done:
            self._schedule_advance()

    def presenter_scale(self) -> float:
        scale = self.tour.presenter.font_scale if self.tour is not None else 1.0
        return max(PRESENTER_MIN_SCALE, scale)

    def set_presenter(self, on: bool) -> None:
        """Presenter mode: the application font (and plot axis fonts) scaled up, or back."""
        app = QApplication.instance()
        if not isinstance(app, QApplication) or on == self.presenter:
            if self.panel is not None:
                self.panel.set_presenter(self.presenter)
            return
        if on:
            if self._base_font is None:
                self._base_font = QFont(app.font())
            scale = self.presenter_scale()
            self._scale_axes(1 + (scale - 1) * AXIS_SHARE)
            big = QFont(self._base_font)
            size = big.pointSizeF() if big.pointSizeF() > 0 else 10.0
            big.setPointSizeF(size * scale)
            app.setFont(big)
            self.presenter = True
            self._apply_presenter_sheet()
        else:
            if self._base_font is not None:
                app.setFont(self._base_font)
                self._base_font = None
            self.presenter = False
            self._apply_presenter_sheet()
            self._restore_axes()
        self.presenter = on
        if self.panel is not None:
            self.panel.set_presenter(on)
            self.panel.set_scale(self.presenter_scale() if on else 1.0)

    def _apply_presenter_sheet(self, _theme: object = None) -> None:
        """The app has a style sheet (the theme), and then `QApplication.setFont` does not reach
        the widgets: a font-size rule appended to the sheet does. Re-applied after a theme change."""
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        sheet = app.styleSheet().split(PRESENTER_MARK, 1)[0].rstrip()
        if self.presenter:
            size = app.font().pointSizeF()
            sheet += (
                f"\n{PRESENTER_MARK}\nQWidget {{ font-size: {size:.1f}pt; }}\n"
                f"QLabel#tourStepTitle {{ font-size: {size * TITLE_SCALE:.1f}pt; font-weight: bold; }}\n"
                f"QTextBrowser#tourNarration {{ font-size: {size * NARRATION_SCALE:.1f}pt; }}\n"
            )
        if sheet != app.styleSheet():
            app.setStyleSheet(sheet)

    def _plot_axes(self) -> list[Any]:
        import pyqtgraph as pg

        axes = []
        for view in self.win.findChildren(pg.GraphicsView):
            for item in view.scene().items():
                if isinstance(item, pg.AxisItem):
                    axes.append(item)
        return axes

    def _scale_axes(self, scale: float) -> None:
        """Time axes grow by `scale`; the others keep today's size (lane names and metric values
        sit in fixed-width axes, where a larger font would not fit and pyqtgraph hides it).
        Call before the application font changes. `_restore_axes` puts back what each had."""
        self._restore_axes()
        for ax in self._plot_axes():
            original = ax.style.get("tickFont")
            self._axis_fonts.append((ax, original))
            f = QFont(original or ax.font())
            size = f.pointSizeF() if f.pointSizeF() > 0 else 9.0
            # set the size explicitly: an inherited font would follow the new application font
            f.setPointSizeF(size * scale if ax.orientation == "bottom" else size)
            ax.setStyle(tickFont=f)

    def _restore_axes(self) -> None:
        fonts, self._axis_fonts = self._axis_fonts, []
        for ax, f in fonts:
            with contextlib.suppress(RuntimeError):  # the axis is gone
                ax.setStyle(tickFont=f)

    # ------------------------------------------------------------------ ending
    def stop_step(self) -> None:
        self._token += 1
        self._advance.stop()
        self.advance_due = None
        self.step_keys = set()
        self.highlighter.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def close(self) -> None:
        """Leave tour mode (runs keep going; fonts back to normal)."""
        self.set_playing(False)
        self.stop_step()
        self.set_presenter(False)
        self.tour = None
        self.index = -1
        if self.panel is not None:
            self.panel.hide()

    def shutdown(self) -> None:
        self.set_playing(False)
        self.stop_step()
        if self.presenter:
            self.set_presenter(False)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("withscope: a tour step failed", exc_info=exc)
            if not self.win.shut_down:
                self.win.messages.show_message("error", f"The tour step failed: {exc!r}")
