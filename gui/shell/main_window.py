"""The main window: catalogue (left), timeline (centre), alerts + details (right), metrics and
throughput (bottom), a status bar and a non-modal message bar.

It wires views to the `Bridge` and requests to the `RunController`. Closing the window while runs
are going cancels them, awaits their cleanup and only then lets the app quit (`closed` signal);
closing the last window would otherwise stop the qasync loop under awaits still pending.
GUI thread only.

Two steps (startup.py): the frame - menus, toolbar, catalogue, status bar, message bar, the dock
layout - needs Qt only; the views - bridge, run controller, timeline, alerts, details, metrics,
throughput, and the features' plumbing - need numpy and pyqtgraph. `MainWindow()` builds both at
once; `MainWindow(defer_views=True)` (the app) shows the frame with placeholders and builds the
views on the loop turn after its first paint (`firstShown`). Until then `views_ready` is False and
every request that needs a view is queued (`when_ready`) and runs, in order, once they exist
(`viewsReady`, `await ready()`). The module imports no view: importing it stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QStyle, QToolBar, QVBoxLayout, QWidget
from withscope.core.status import RunStatus
from withscope.gui.docks import alerts_columns
from withscope.gui.docks.catalogue_dock import CatalogueDock
from withscope.gui.docks.message_bar import MessageBar
from withscope.gui.model.lag import LagMonitor
from withscope.gui.shell.settings import STATE_VERSION, Settings
from withscope.gui.shell.startup import FirstShow, Placeholder, ReadyQueue, placeholder_dock
from withscope.gui.shell.target_dialog import TargetDialog
from withscope.gui.style import theme as th

if TYPE_CHECKING:  # the views are imported when they are built (see the module docstring)
    from withscope.gui.bridge.bridge import Bridge, BridgeStats, RunAlert
    from withscope.gui.bridge.runs import RunController, RunFactory, RunRequest
    from withscope.gui.docks.alerts_dock import AlertsDock
    from withscope.gui.docks.console_dock import ConsoleDock
    from withscope.gui.docks.details_dock import DetailsDock
    from withscope.gui.docks.metrics_dock import MetricsDock
    from withscope.gui.docks.throughput_dock import ThroughputDock
    from withscope.gui.timeline.timeline import TimelineView

log = logging.getLogger("withscope")

STATUS_EVERY_S = 0.25  # status bar numbers refresh at most 4 times a second
# The data docks: attribute, title, object name (the saved layout knows them by it), area.
DATA_DOCKS = (
    ("alerts", "Leak alerts", "alertsDock", Qt.DockWidgetArea.BottomDockWidgetArea),
    ("details", "Details", "detailsDock", Qt.DockWidgetArea.RightDockWidgetArea),
    ("metrics", "Process metrics", "metricsDock", Qt.DockWidgetArea.BottomDockWidgetArea),
    ("throughput", "Streaming throughput", "throughputDock", Qt.DockWidgetArea.BottomDockWidgetArea),
    ("console", "Console", "consoleDock", Qt.DockWidgetArea.BottomDockWidgetArea),
)
SCREEN_SHARE = 0.85  # a first window (no saved geometry) covers this much of the screen, centred
ALERTS_NEED_PX = 780  # the alerts table with every column readable (alerts_columns.needed_width), default font
METRICS_LEAST_PX = 360  # the strip charts beside the alerts; narrower, they go behind the alerts as tabs


def first_geometry(available: QRect, share: float = SCREEN_SHARE) -> QRect:
    """The first window's geometry: `share` of the screen's available area, centred in it."""
    w, h = round(available.width() * share), round(available.height() * share)
    return QRect(available.x() + (available.width() - w) // 2, available.y() + (available.height() - h) // 2, w, h)


def dock_sizes(width: int, height: int, alerts_need: int = ALERTS_NEED_PX) -> dict[str, int]:
    """Dock sizes (px) for a `width` x `height` window. Left, full height: the catalogue (~17% of
    the width). Right, above the bottom row: the details (~30%). Centre: the timeline. Bottom, under
    the timeline and the details: the alerts - as wide as their columns need - beside the process
    metrics and throughput tabs; where the metrics would get less than `METRICS_LEAST_PX`
    ("tabbed": 1,280 x 800 screens) they are tabs behind the alerts, which then take the row."""
    catalogue = max(230, min(320, round(width * 0.17)))
    details = max(420, min(560, round(width * 0.3)))
    row = width - catalogue
    tabbed = row - alerts_need < METRICS_LEAST_PX
    alerts = row if tabbed else alerts_need
    return {"catalogue": catalogue, "details": details, "alerts": alerts, "metrics": row - alerts,
            "bottom": max(220, round(height * 0.36)), "tabbed": int(tabbed)}


class MainWindow(QMainWindow):
    dock_sizes = staticmethod(dock_sizes)  # for the views above the shell (a tour sizes the docks)
    closed = Signal()  # emitted once shutdown finished: the app may quit now
    firstShown = Signal()  # emitted once, on the loop turn after the window was first painted
    viewsReady = Signal()  # emitted once the views are built (see the module docstring)

    # Built with the views (`build_views`); until then the data docks are placeholders.
    bridge: Bridge
    controller: RunController
    timeline: TimelineView
    alerts: AlertsDock
    details: DetailsDock
    metrics: MetricsDock
    throughput: ThroughputDock
    console: ConsoleDock

    def __init__(
        self,
        *,
        patterns: Sequence[tuple[str, str, Sequence[Any]]] = (),
        run_factory: RunFactory | None = None,
        settings: Settings | None = None,
        bridge: Bridge | None = None,
        defer_views: bool = False,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("withscope — resource lifetimes, live")
        self.settings = settings
        self._bridge_arg = bridge
        self._run_factory = run_factory
        self.lag = LagMonitor()
        self._closing = False
        self._closed_ok = False
        self._started = False
        self._dialog: TargetDialog | None = None
        self._status_at = -math.inf  # time.monotonic() of the last status bar update
        self._details_pinned = False  # the user picked something: new alerts do not replace it

        # centre: message bar over the timeline (a placeholder until the views are built)
        self.messages = MessageBar()
        self._queue = ReadyQueue(lambda text: self.messages.show_message("error", text))
        self._placeholders: dict[str, QWidget] = {}  # view attribute -> what stands for it
        if defer_views:
            self._placeholders = {attr: placeholder_dock(title, name, self) for attr, title, name, _a in DATA_DOCKS}
            self._placeholders["timeline"] = Placeholder("Loading plots…")
        else:
            self._create_views()
        centre = QWidget()
        self._centre_box = box = QVBoxLayout(centre)
        box.setContentsMargins(4, 4, 4, 0)
        box.setSpacing(4)
        box.addWidget(self.messages)
        box.addWidget(self._view("timeline"), 1)
        self.setCentralWidget(centre)

        # docks: catalogue (left), alerts and details (right), metrics and throughput (bottom)
        self.catalogue = CatalogueDock(patterns, self)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.catalogue)
        for attr, _title, _name, area in DATA_DOCKS:
            self.addDockWidget(area, self._dock(attr))
        metrics, throughput = self._dock("metrics"), self._dock("throughput")
        self.tabifyDockWidget(metrics, throughput)
        self.tabifyDockWidget(throughput, self._dock("console"))
        metrics.raise_()
        self._docks_fitted = False  # docks arranged and sized from the window's size (at its first show)

        self._build_actions()
        self._build_status()

        # wiring of the frame (the views are wired in _wire_views)
        cat = self.catalogue
        cat.runRequested.connect(self.run_workloads)
        cat.stopRequested.connect(self.stop_all)
        cat.clearRequested.connect(self.clear)
        cat.openTargetRequested.connect(self.open_target)
        th.notifier().changed.connect(self._sync_theme_actions)
        from withscope.gui.shell.features import install as install_features  # tours, recordings, compare, exports

        self.features = install_features(self)  # its menus now, its plumbing with the views
        self._default_state = self.saveState(STATE_VERSION)
        self._first_show = FirstShow(self)
        self._first_show.shown.connect(self.firstShown)
        if defer_views:
            self._first_show.shown.connect(lambda: QTimer.singleShot(0, self, self.build_views))
        else:
            self._wire_views()
            self._queue.open()

    # ------------------------------------------------------------------ the views, built later
    @property
    def views_ready(self) -> bool:
        """True once the views exist (always, unless built with `defer_views=True`)."""
        return self._queue.is_open

    def when_ready(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call `fn(*args)` now if the views exist, else once they do (in the order asked)."""
        self._queue.call(fn, *args)

    async def ready(self) -> None:
        """Return once the views exist (raises what building them raised)."""
        await self._queue.wait()

    def build_views(self) -> None:
        """Import and build the views into the placeholders' places, wire them, then run what
        was queued (idempotent: the views are built once)."""
        if self._queue.is_open or self._queue.error is not None:
            return
        # The status bar's loop lag is about the app at work: the one-off build (~0.3 s, mostly
        # importing pyqtgraph) is start-up, not lag, so the monitor pauses over it.
        lag_running = self.lag.running
        self.lag.stop()
        try:
            self._create_views()
            self._swap_placeholders()
            self._wire_views()
        except Exception as exc:
            log.exception("withscope: the views could not be built")
            self._queue.fail(exc)
            self.messages.show_message("error", f"Internal error: the views could not be built: {exc!r}")
            raise
        if lag_running:
            self.lag.start()
        self._queue.open()
        self.viewsReady.emit()

    def _view(self, attr: str) -> Any:
        """The view called `attr`, or the placeholder standing for it."""
        return self._placeholders.get(attr) or getattr(self, attr)

    def _dock(self, attr: str) -> QDockWidget:
        dock: QDockWidget = self._view(attr)
        return dock

    def _create_views(self) -> None:
        from withscope.gui.bridge.bridge import Bridge
        from withscope.gui.bridge.runs import RunController
        from withscope.gui.docks.alerts_dock import AlertsDock
        from withscope.gui.docks.console_dock import ConsoleDock
        from withscope.gui.docks.details_dock import DetailsDock
        from withscope.gui.docks.metrics_dock import MetricsDock
        from withscope.gui.docks.throughput_dock import ThroughputDock
        from withscope.gui.timeline.timeline import TimelineView

        self.bridge = self._bridge_arg or Bridge(self)
        self.controller = RunController(self.bridge, self._run_factory, self)
        self.timeline = TimelineView(self.bridge)
        self.alerts = AlertsDock(self.bridge, self)
        self.details = DetailsDock(self.bridge, self)
        self.metrics = MetricsDock(self.bridge, self)
        self.throughput = ThroughputDock(self.bridge, self)
        self.console = ConsoleDock(self.controller.console, self.bridge.statsChanged, self)
        self.metrics.link_x(self.timeline.plot.getViewBox())
        self.throughput.link_x(self.timeline.plot.getViewBox())

    def _wire_views(self) -> None:
        self.timeline.follow_button.toggled.connect(self.follow_action.setChecked)
        self.timeline.group_combo.currentIndexChanged.connect(
            lambda i: self.lane_actions["run" if i else "kind"].setChecked(True))
        self.controller.message.connect(self.messages.show_message)
        self.controller.runStarted.connect(lambda *_: self._on_runs_changed())
        self.controller.runFinished.connect(self._on_run_finished)
        self.bridge.statsChanged.connect(self._on_stats)
        self.timeline.selected.connect(self._on_bar_selected)
        self.alerts.alertSelected.connect(self._on_alert_selected)
        self.bridge.alertsAdded.connect(self._on_new_alerts)
        self.features.attach()
        if self._started:
            self.bridge.start()

    def _swap_placeholders(self) -> None:
        """The real docks take the placeholders' places: same areas, tabs, sizes, visibility and
        floating state (through the window state, which knows docks by object name), and their
        toggle actions replace the placeholders' in the View menu."""
        plot = self._placeholders.pop("timeline")
        self._centre_box.replaceWidget(plot, self.timeline)
        plot.deleteLater()
        state = self.saveState(STATE_VERSION)
        for attr, _title, _name, area in DATA_DOCKS:
            ph = self._dock(attr)
            dock: QDockWidget = getattr(self, attr)
            self.view_menu.insertAction(ph.toggleViewAction(), dock.toggleViewAction())
            self.view_menu.removeAction(ph.toggleViewAction())
            self.removeDockWidget(ph)
            ph.setObjectName("")  # restoreState finds docks by name: only the real one has it now
            ph.deleteLater()
            self.addDockWidget(area, dock)
        self._placeholders.clear()
        self.tabifyDockWidget(self.metrics, self.throughput)
        self.tabifyDockWidget(self.throughput, self.console)
        self.restoreState(state, STATE_VERSION)

    def fit_docks(self) -> None:
        """Arrange and size the docks in proportion to the window (`dock_sizes`): the alerts beside
        the metrics tabs, or in front of them (tabbed) in a narrow window."""
        alerts, details, metrics = (self._dock(a) for a in ("alerts", "details", "metrics"))
        need = alerts_columns.needed_width(self.fontMetrics())  # the same before the dock is built
        sizes = dock_sizes(self.width(), self.height(), need)
        tabbed = alerts in self.tabifiedDockWidgets(metrics)
        if sizes["tabbed"] and not tabbed:  # one row of tabs: alerts, metrics, throughput, console
            throughput = self._dock("throughput")
            self.tabifyDockWidget(alerts, metrics)
            self.tabifyDockWidget(metrics, throughput)
            self.tabifyDockWidget(throughput, self._dock("console"))
            alerts.raise_()
        elif not sizes["tabbed"] and tabbed:  # the default arrangement: alerts beside the metrics
            self.restoreState(QByteArray(self._default_state), STATE_VERSION)
        self.resizeDocks([self.catalogue, details], [sizes["catalogue"], sizes["details"]], Qt.Orientation.Horizontal)
        if not sizes["tabbed"]:
            self.resizeDocks([alerts, metrics], [sizes["alerts"], sizes["metrics"]], Qt.Orientation.Horizontal)
        self.resizeDocks([alerts], [sizes["bottom"]], Qt.Orientation.Vertical)

    def fit_to_screen(self) -> None:
        """A first window: `SCREEN_SHARE` of the screen, centred (without a window manager, as on
        Xvfb, a window would open at its size hint, ~730 x 550)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        self.setGeometry(first_geometry(screen.availableGeometry()))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_fitted:  # at the size it is shown at, unless a saved layout was restored
            self._docks_fitted = True
            self.fit_docks()

    def _docks(self) -> list[QDockWidget]:
        """The catalogue and the data docks (or the placeholders standing for them)."""
        return [self.catalogue, *(self._dock(attr) for attr, *_ in DATA_DOCKS)]

    # ------------------------------------------------------------------ building
    def _action(self, text: str, slot: Any, shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip + (f" ({QKeySequence(shortcut).toString()})" if shortcut else ""))
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_actions(self) -> None:
        self.run_action = self._action("Run", self.catalogue.request_run, "Ctrl+R", "Run the selected workloads")
        self.stop_action = self._action("Stop", self.stop_all, "Ctrl+.", "Cancel every run and release its resources")
        self.stop_action.setEnabled(False)
        self.clear_action = self._action("Clear", self.clear, "Ctrl+L", "Forget finished runs and clear the views")
        self.open_action = self._action("Open target…", self.open_target, "Ctrl+Shift+O",
                                        "Run your own script, module or function, with arguments")
        self.fit_action = self._action("Fit timeline", self.fit_timeline, "Ctrl+0", "Show every lifetime")
        self.follow_action = self._action("Follow latest", self.set_follow, "Ctrl+F",
                                          "Keep the newest events in view")
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        self.quit_action = self._action("Quit", self.close, QKeySequence.StandardKey.Quit, "Stop every run and quit")

        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        for a, icon in ((self.run_action, QStyle.StandardPixmap.SP_MediaPlay),
                        (self.stop_action, QStyle.StandardPixmap.SP_MediaStop),
                        (self.clear_action, QStyle.StandardPixmap.SP_DialogResetButton),
                        (self.open_action, QStyle.StandardPixmap.SP_DirOpenIcon)):
            a.setIcon(style.standardIcon(icon))
        for a in (self.run_action, self.stop_action, self.clear_action):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.open_action)
        self.addToolBar(tb)

        menu = self.menuBar()
        f = menu.addMenu("&File")
        f.addAction(self.open_action)
        f.addSeparator()
        f.addAction(self.quit_action)
        r = menu.addMenu("&Run")
        for a in (self.run_action, self.stop_action, self.clear_action):
            r.addAction(a)
        v = self.view_menu = menu.addMenu("&View")
        v.addAction(self.follow_action)
        v.addAction(self.fit_action)
        lanes = v.addMenu("Lanes")
        group = QActionGroup(self)
        self.lane_actions = {}
        for mode, text in (("kind", "By kind"), ("run", "By run")):
            a = QAction(text, self, checkable=True)
            a.setChecked(mode == "kind")
            a.triggered.connect(lambda _c=False, m=mode: self.set_group_by(m))
            group.addAction(a)
            lanes.addAction(a)
            self.lane_actions[mode] = a
        v.addSeparator()
        theme_menu = v.addMenu("Theme")
        tgroup = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for mode, text in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            a = QAction(text, self, checkable=True)
            a.triggered.connect(lambda _c=False, m=mode: self.set_theme_mode(m))
            tgroup.addAction(a)
            theme_menu.addAction(a)
            self.theme_actions[mode] = a
        self.theme_actions["system"].setChecked(True)
        v.addSeparator()
        for dock in self._docks():
            v.addAction(dock.toggleViewAction())
        v.addSeparator()
        v.addAction(self._action("Reset layout", self.reset_layout, None, "Put every dock back where it started"))
        h = menu.addMenu("&Help")
        h.addAction(self._action("About withscope", self._about, None, ""))
        self.theme_mode = "system"

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_running = QLabel("Idle — pick a workload and press Run")
        self.status_events = QLabel("0 events/s")
        self.status_lifetimes = QLabel("0 lifetimes")
        self.status_dropped = QLabel("")
        self.status_lag = QLabel("loop lag —")
        for w in (self.status_events, self.status_lifetimes, self.status_dropped, self.status_lag):
            w.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.status_lag.setToolTip(
            "How late the event loop wakes up from a 50 ms sleep (latest / p99 of the last 10 s)")
        self.status_events.setToolTip("Events (acquire/release/stream) recorded per second")
        sb.addWidget(self.status_running, 1)
        for w in (self.status_lifetimes, self.status_events, self.status_dropped, self.status_lag):
            sb.addPermanentWidget(w)
        self.status_dropped.hide()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the bridge frame timer (once it exists) and the lag monitor (needs the running
        qasync loop)."""
        self._started = True
        if self.views_ready:
            self.bridge.start()
        self.lag.start()

    def restore(self) -> None:
        if self.settings is None:
            return
        geo, state = self.settings.geometry(), self.settings.state()
        if geo is None or not self.restoreGeometry(geo):
            self.fit_to_screen()
        if state is not None and self.restoreState(state, STATE_VERSION):
            self._docks_fitted = True  # the user's own dock sizes
        self.set_theme_mode(self.settings.get("theme", "system"), save=False)
        self.set_group_by(self.settings.get("lanes", "kind"))

    def save(self) -> None:
        if self.settings is None:
            return
        self.settings.save_window(self.saveGeometry(), self.saveState(STATE_VERSION))
        self.settings.set("theme", self.theme_mode)
        self.settings.set("lanes", self.timeline.group_by)
        self.settings.sync()

    def reset_layout(self) -> None:
        self.restoreState(QByteArray(self._default_state), STATE_VERSION)
        for dock in self._docks():
            dock.show()
        self.fit_docks()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed_ok:
            event.accept()
            return
        event.ignore()
        if not self._closing:
            self._closing = True
            self.status_running.setText("Closing: stopping runs and releasing their resources…")
            if not self.views_ready and self._queue.error is None:
                # Closed before the views exist: what waited for them is moot (a run would be
                # cancelled at once); the views are built all the same, for one shutdown path.
                self._queue.drop()
                with contextlib.suppress(Exception):  # logged and shown by build_views
                    self.build_views()
            task = asyncio.get_event_loop().create_task(self._shutdown(), name="withscope-shutdown")
            if self.views_ready:
                self.controller._keep(task)
            else:
                self._shutdown_task = task  # a strong reference

    async def _shutdown(self) -> None:
        if not self.views_ready:  # building them failed: nothing ran, nothing to stop
            self.lag.stop()
            self._closed_ok = True
            self.close()
            self.closed.emit()
            return
        try:
            await self.controller.shutdown()
            self.lag.stop()
        finally:
            self.save()
            self.bridge.close()
            self.alerts.close_dock()
            self._closed_ok = True
            self.close()
            self.closed.emit()

    @property
    def shut_down(self) -> bool:
        return self._closed_ok

    # ------------------------------------------------------------------ commands
    def run_workloads(self, names: list[str], repeat: int = 1) -> None:
        if not self.views_ready:
            self.when_ready(self.run_workloads, list(names), repeat)
            return
        for name in names:
            self.controller.start(name, repeat)
        self._on_runs_changed()

    def stop_all(self) -> None:
        if not self.views_ready:
            self.when_ready(self.stop_all)  # after the runs queued before it
            return
        if self.controller.is_running():
            self.status_running.setText("Stopping: cancelling runs and releasing their resources…")
            self.controller.stop_all()

    def clear(self) -> None:
        if not self.views_ready:
            self.when_ready(self.clear)
            return
        self.bridge.clear()
        self._details_pinned = False
        self.details.show_empty()
        self.messages.hide()

    def open_target(self) -> None:
        dlg = TargetDialog(self, self.settings)  # the last target, arguments and folder come back
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.requestChosen.connect(self._on_target)
        self._dialog = dlg
        dlg.open()  # non-modal for the loop: never exec() (qasync)

    def _on_target(self, request: RunRequest) -> None:
        if not self.views_ready:
            self.when_ready(self._on_target, request)
            return
        if self.controller.start(request):
            self.console.raise_()  # the program's output
        self._on_runs_changed()

    def fit_timeline(self) -> None:
        self.when_ready(lambda: self.timeline.fit())

    def set_follow(self, on: bool) -> None:
        self.when_ready(lambda: self.timeline.set_follow(on))

    def set_group_by(self, mode: str) -> None:
        """Lanes by "kind" or by "run" (the View menu follows)."""
        a = self.lane_actions.get(mode)
        if a is not None:
            a.setChecked(True)
        self.when_ready(lambda: self.timeline.set_group_by(mode))

    def set_theme_mode(self, mode: str, *, save: bool = True) -> None:
        self.theme_mode = mode if mode in ("system", "light", "dark") else "system"
        theme = th.Theme.system() if self.theme_mode == "system" else th.Theme.named(self.theme_mode)
        th.apply(theme)
        self._sync_theme_actions()
        if save and self.settings is not None:
            self.settings.set("theme", self.theme_mode)

    def _sync_theme_actions(self, _theme: object = None) -> None:
        a = self.theme_actions.get(self.theme_mode)
        if a is not None:
            a.setChecked(True)

    def _about(self) -> None:
        self.messages.show_message(
            "info", "withscope shows the lifetime of every resource your code acquires, and why one leaks.")

    # ------------------------------------------------------------------ reactions
    def _on_runs_changed(self) -> None:
        running = self.controller.running
        self.stop_action.setEnabled(bool(running))
        self.catalogue.set_running(bool(running))
        if running:
            shown = ", ".join(running[:3]) + (f" +{len(running) - 3}" if len(running) > 3 else "")
            self.status_running.setText(f"Running {len(running)}: {shown}")
        elif not self._closing:
            self.status_running.setText("Idle — pick a workload and press Run")

    def _on_run_finished(self, _key: int, name: str, status: str, error: str) -> None:
        self._on_runs_changed()
        if not self.controller.running:
            self.status_running.setText(f"Finished {name}" if status == RunStatus.OK else f"{name}: {status}")

    def _on_stats(self, stats: BridgeStats) -> None:
        # Every frame, but the labels change at most STATUS_EVERY_S apart: each change of their
        # text re-lays out the status bar and repaints it.
        now = time.monotonic()
        if now - self._status_at < STATUS_EVERY_S:
            return
        self._status_at = now
        self.status_events.setText(f"{stats.events_per_s:,.0f} events/s")
        self.status_lifetimes.setText(f"{stats.lifetimes:,} lifetimes · {stats.open:,} open")
        if stats.dropped:
            self.status_dropped.setText(f"⚠ {stats.dropped:,} events dropped")
            self.status_dropped.show()
        else:
            self.status_dropped.hide()
        if self.lag.samples:
            self.status_lag.setText(f"loop lag {self.lag.latest_ms:.1f} ms (p99 {self.lag.percentile(99):.1f})")

    def _on_new_alerts(self, alerts: list[RunAlert]) -> None:
        """Until the user picks something, the details dock shows the first alert (stack, source)."""
        if not self._details_pinned and alerts:
            ra = alerts[0]
            row = ra.row
            if row is None and ra.alert.lifetime_id is not None:
                row = self.bridge.store.row_of(ra.run, ra.alert.lifetime_id)
            self.details.show_row(row, ra)
            self._details_pinned = True

    def _on_bar_selected(self, row: int | None) -> None:
        self._details_pinned = True
        self.details.show_row(row)

    def _on_alert_selected(self, ra: RunAlert) -> None:
        self._details_pinned = True
        row = ra.row
        if row is None and ra.alert.lifetime_id is not None:
            row = self.bridge.store.row_of(ra.run, ra.alert.lifetime_id)
        self.timeline.highlight(row)
        self.details.show_row(row, ra)
        QTimer.singleShot(0, self.details.raise_)

