"""Tours, recordings (save, open and replay, record to a folder), compare and exports, hooked
into the main window with one call: `install(win)`.

Adds to the window's menus: File > Open recording… (Ctrl+O), Save recording… (Ctrl+S), Record
runs to a folder…, Compare recordings…, Compare the last two runs, Export ▸ (Chrome trace, CSV,
JSON report, HTML report, plot images); View > Tour panel; Help > Tours ▸ and Start the tour
(F1). A tour clears the views at each step: when runs or a recording are on screen, starting one
asks first (a non-modal question: `open()` and its `finished` signal, never `exec()` on the
qasync loop), and Cancel keeps them. A right-click on any plot offers PNG / SVG. The heavier
parts (replay, tours, compare) are created on first use, so start-up pays only for the menus.

Two steps, like the window (startup.py): `install(win)` adds the menus, whose actions wait for the
window's views (`win.when_ready`); `attach()`, called by the window once its views exist, follows
the runs, registers the plot image formats and opens a tour asked for at start.

Shutdown: a close request stops the tour first (no step may start runs while the window shuts
down); when the window has shut down, timers stop and recordings being written are finished.
GUI thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget
from withscope.gui.model.tasks import TaskKeeper
from withscope.gui.recordings import file_dialogs
from withscope.gui.recordings.export_actions import ExportActions
from withscope.gui.recordings.recordings import RunHistory, default_name, snapshot_for_export

if TYPE_CHECKING:
    from withscope.gui.recordings.replay import Replay
    from withscope.gui.shell.main_window import MainWindow
    from withscope.gui.tours.tour_player import TourPlayer


SETTING_RECORD = "recordings/record"
SETTING_FOLDER = "recordings/folder"


def _menu(win: MainWindow, title: str) -> QMenu:
    """The window's menu called `title` ("&File"), created at the end when missing."""
    for a in win.menuBar().actions():
        m = a.menu()
        if isinstance(m, QMenu) and m.title().replace("&", "") == title.replace("&", ""):
            return m
    return win.menuBar().addMenu(title)


class Features(QObject):
    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.history: RunHistory | None = None  # with the views (attach)
        self.exports = ExportActions(win, self)
        self._replay: Replay | None = None
        self._tours: TourPlayer | None = None
        self.compare_windows: list[QWidget] = []
        self._tasks = TaskKeeper(lambda text: self.win.messages.show_message("error", text),
                                 lambda: self.win.shut_down)
        self.actions: dict[str, QAction] = {}
        self._build_menus()
        self._plots_watched = False
        self.plot_menu: Any = None
        self._confirm: QMessageBox | None = None  # the "clear the runs for the tour?" question, while open
        win.installEventFilter(self)
        win.closed.connect(self.shutdown)

    def attach(self) -> None:
        """The window's views exist: follow its runs and plots (called once, by the window)."""
        win = self.win
        self.history = RunHistory(win)
        self._watch_plots()
        win.bridge.samplesAdded.connect(self._watch_plots)
        win.bridge.streamsChanged.connect(self._watch_plots)
        self._restore_recording_folder()
        from withscope.gui.recordings.plot_export import register_formats

        register_formats()
        from withscope.gui.tours.tour_player import take_request

        request = take_request()
        if request is not None:  # `withscope demo`: open the tour once the loop runs
            QTimer.singleShot(0, lambda: self.tours.open(request.tour, presenter=request.presenter,
                                                         autoplay=request.autoplay))

    def runs(self) -> RunHistory:
        """The run history: made by attach(), which runs before any action (see `_action`)."""
        assert self.history is not None
        return self.history

    # ------------------------------------------------------------------ lazily created parts
    @property
    def replay(self) -> Replay:
        if self._replay is None:
            from withscope.gui.recordings.replay import Replay

            self._replay = Replay(self.win)
        return self._replay

    def replay_if_any(self) -> Replay | None:
        return self._replay

    @property
    def tours(self) -> TourPlayer:
        if self._tours is None:
            from withscope.gui.tours.tour_player import TourPlayer

            self._tours = TourPlayer(self.win, self)
            self.actions["tour_panel"].setChecked(True)
        return self._tours

    # ------------------------------------------------------------------ menus
    def _action(self, key: str, text: str, slot: Any, shortcut: str | None = None, tip: str = "",
                checkable: bool = False) -> QAction:
        """An action whose `slot` runs once the window's views exist (with the checked state
        when `checkable`)."""
        a = QAction(text, self.win)
        a.setCheckable(checkable)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip + (f" ({QKeySequence(shortcut).toString()})" if shortcut else ""))
        if checkable:
            a.triggered.connect(lambda on: self.win.when_ready(slot, on))
        else:
            a.triggered.connect(lambda: self.win.when_ready(slot))
        self.actions[key] = a
        return a

    def _build_menus(self) -> None:
        win = self.win
        f = _menu(win, "&File")
        before = getattr(win, "quit_action", None)
        items: list[QAction | QMenu | None] = [
            self._action("open_recording", "Open recording…", self.ask_open_recording, "Ctrl+O",
                         "Open a recording and replay it in the views"),
            self._action("save_recording", "Save recording…", self.ask_save_recording, "Ctrl+S",
                         "Save the selected (or latest) run as a recording file"),
            self._action("record_folder", "Record runs to a folder…", self.set_record_to_folder, None,
                         "Write every run started from now on to a recording file in a folder", checkable=True),
            None,
            self._action("compare_files", "Compare recordings…", self.ask_compare_files, None,
                         "Two recordings side by side, with a diff of alerts and resources"),
            self._action("compare_runs", "Compare the last two runs", self.compare_last_runs, None,
                         "The two latest finished runs of this session side by side"),
        ]
        export_menu = QMenu("Export", win)
        self.exports.build_menu(export_menu)
        self.export_menu = export_menu
        items += [export_menu, None]
        for it in items:
            if it is None:
                f.insertSeparator(before) if before is not None else f.addSeparator()
            elif isinstance(it, QMenu):
                f.insertMenu(before, it) if before is not None else f.addMenu(it)
            else:
                f.insertAction(before, it) if before is not None else f.addAction(it)

        v = _menu(win, "&View")
        panel = self._action("tour_panel", "Tour panel", self.toggle_tour_panel, None,
                             "Show or hide the tour panel (opens the built-in tour the first time)", checkable=True)
        v.addSeparator()
        v.addAction(panel)

        h = _menu(win, "&Help")
        first = h.actions()[0] if h.actions() else None
        start = self._action("start_tour", "Start the tour", lambda: self.start_tour(None), "F1",
                             "The built-in tour: every pattern of the catalogue, correct then faulty")
        self.tours_menu = QMenu("Tours", win)
        self.tours_menu.aboutToShow.connect(self._fill_tours_menu)
        if first is not None:
            h.insertAction(first, start)
            h.insertMenu(first, self.tours_menu)
            h.insertSeparator(first)
        else:
            h.addAction(start)
            h.addMenu(self.tours_menu)

    def _fill_tours_menu(self) -> None:
        from withscope.gui.tours.tour_player import available_tours

        m = self.tours_menu
        m.clear()
        for name, title in available_tours():
            m.addAction(title, self._tour_starter(name))
        m.addSeparator()
        m.addAction("Open tour file…", lambda: self.win.when_ready(lambda: self.tours.ask_file()))

    def _tour_starter(self, name: str) -> Callable[[], None]:
        return lambda: self.win.when_ready(lambda: self.start_tour(name))

    def toggle_tour_panel(self, on: bool) -> None:
        if on:
            player = self.tours
            if player.tour is None and player.last_error is None:
                self.start_tour(None)
            else:
                player.show_panel()
        elif self._tours is not None:
            self._tours.close()

    def on_screen(self) -> tuple[int, int, bool]:
        """(runs shown, runs still going, a recording shown): what a tour's first step clears."""
        runs = self.win.bridge.runs()
        replay = self.replay_if_any()
        return len(runs), sum(1 for _k, _n, going in runs if going), bool(replay is not None and replay.active)

    def start_tour(self, spec: str | None) -> None:
        """Open a tour (None: the built-in one). Its steps clear the views: with runs or a
        recording on screen, ask first - a non-modal question; Cancel keeps them."""
        shown, going, recording = self.on_screen()
        if not shown and not recording:
            self.tours.open(spec)
            return
        if self._confirm is not None:  # already asking
            self._confirm.raise_()
            return
        what = []
        if shown:
            what.append(f"{shown} run{'s' if shown != 1 else ''} on screen"
                        + (f" ({going} still running: {'it' if going == 1 else 'they'} will be stopped)"
                           if going else ""))
        if recording:
            what.append("the recording being replayed")
        box = QMessageBox(QMessageBox.Icon.Question, "Start the tour?",
                          f"The tour clears the views at each step: {' and '.join(what)} will be cleared.",
                          QMessageBox.StandardButton.NoButton, self.win)
        box.setInformativeText("To keep a run, cancel and save it first (File ▸ Save recording…).")
        start = box.addButton("Clear and start the tour", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(start)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._confirm = box

        def finished(_result: int) -> None:
            self._confirm = None
            if box.clickedButton() is start and not self.win.shut_down:
                self.tours.open(spec)

        box.finished.connect(finished)
        box.open()  # never exec(): a nested loop inside qasync's

    # ------------------------------------------------------------------ recordings
    def ask_open_recording(self) -> None:
        file_dialogs.open_file(self.win, "Open a recording", file_dialogs.RECORDING_FILTER,
                               self.open_recording, self._folder())

    def open_recording(self, path: Path) -> asyncio.Task[bool]:
        return self.replay.open_file(path)

    def ask_save_recording(self) -> None:
        found = snapshot_for_export(self.win, self.runs(), self._replay)
        if found is None:
            self.win.messages.show_message("warning", "Nothing to save yet: run a workload first.")
            return
        snap, _what = found
        file_dialogs.save_file(self.win, "Save the run as a recording", file_dialogs.RECORDING_FILTER,
                               str(Path(self._folder()) / default_name(snap.target)), self.save_recording, "db")

    def save_recording(self, path: Path, snapshot: Any = None) -> asyncio.Task[bool]:
        task = asyncio.get_event_loop().create_task(self._save(Path(path), snapshot), name="withscope-save")
        self._keep(task)
        return task

    async def _save(self, path: Path, snapshot: Any) -> bool:
        from withscope.core.store import RecordingError, save_snapshot

        what = "the run"
        if snapshot is None:
            found = snapshot_for_export(self.win, self.runs(), self._replay)
            if found is None:
                self.win.messages.show_message("warning", "Nothing to save yet: run a workload first.")
                return False
            snapshot, what = found
        self.win.status_running.setText(f"Saving {what} to {path.name}…")
        try:
            await asyncio.get_running_loop().run_in_executor(None, save_snapshot, snapshot, path)
        except RecordingError as exc:
            self.win.messages.show_message("error", f"Cannot save the recording: {exc}")
            return False
        finally:
            if not self.win.shut_down:
                self.win.status_running.setText("Idle — pick a workload and press Run")
        self.win.messages.show_message("info", f"Saved {what} to {path} (File > Open recording to replay it)")
        return True

    def set_record_to_folder(self, on: bool) -> None:
        if not on:
            self.runs().set_record_dir(None)
            self._setting(SETTING_RECORD, "0")
            self.win.messages.show_message("info", "Runs are no longer recorded to a folder.")
            return

        def cancelled() -> None:
            if self.runs().record_dir is None:
                self.actions["record_folder"].setChecked(False)

        file_dialogs.choose_directory(self.win, "Record every run to this folder", self.record_to,
                                      self._folder(), on_cancel=cancelled)

    def record_to(self, folder: Path) -> None:
        self.runs().set_record_dir(Path(folder))
        self.actions["record_folder"].setChecked(True)
        self._setting(SETTING_FOLDER, str(folder))
        self._setting(SETTING_RECORD, "1")
        self.win.messages.show_message("info", f"Every run from now on is recorded to {folder}.")

    def _restore_recording_folder(self) -> None:
        s = self.win.settings
        if s is not None and s.get(SETTING_RECORD, "0") == "1" and s.get(SETTING_FOLDER, ""):
            folder = Path(s.get(SETTING_FOLDER, ""))
            if folder.is_dir():
                self.runs().set_record_dir(folder)
                self.actions["record_folder"].setChecked(True)

    def _setting(self, key: str, value: str) -> None:
        if self.win.settings is not None:
            self.win.settings.set(key, value)

    def _folder(self) -> str:
        s = self.win.settings
        return s.get(SETTING_FOLDER, "") if s is not None else ""

    # ------------------------------------------------------------------ compare
    def ask_compare_files(self) -> None:
        def chosen(paths: list[Path]) -> None:
            if len(paths) >= 2:
                self.compare_files(paths[0], paths[1])
            elif len(paths) == 1:
                file_dialogs.open_file(self.win, "Compare with… (recording B)", file_dialogs.RECORDING_FILTER,
                                       lambda b: self.compare_files(paths[0], b), str(paths[0].parent))

        file_dialogs.open_files(self.win, "Compare recordings (choose A, or A and B)", file_dialogs.RECORDING_FILTER,
                                chosen, self._folder())

    def compare_files(self, a: Path, b: Path) -> asyncio.Task[QWidget | None]:
        task = asyncio.get_event_loop().create_task(self._compare_files(Path(a), Path(b)), name="withscope-compare")
        self._keep(task)
        return task

    async def _compare_files(self, a: Path, b: Path) -> QWidget | None:
        from withscope.core.store import RecordingError, open_recording

        loop = asyncio.get_running_loop()
        self.win.status_running.setText(f"Opening {a.name} and {b.name}…")
        try:
            sa = await loop.run_in_executor(None, open_recording, a)
            sb = await loop.run_in_executor(None, open_recording, b)
        except RecordingError as exc:
            self.win.messages.show_message("error", f"Cannot compare: {exc}")
            return None
        finally:
            if not self.win.shut_down:
                self.win.status_running.setText("Idle — pick a workload and press Run")
        if self.win.shut_down:
            return None
        return self.compare(sa, sb, f"A: {a.name}", f"B: {b.name}")

    def compare_last_runs(self) -> QWidget | None:
        runs = self.runs().finished_runs()
        if len(runs) < 2:
            self.win.messages.show_message(
                "warning", "Compare needs two finished runs: run two workloads (e.g. class-cm/correct, then "
                "class-cm/faulty), or use File > Compare recordings…")
            return None
        a, b = runs[-2], runs[-1]
        return self.compare(a.snapshot(), b.snapshot(), f"A: {a.name}", f"B: {b.name}")

    def compare(self, a: Any, b: Any, a_label: str = "A", b_label: str = "B") -> QWidget:
        from withscope.gui.recordings.compare import CompareWindow

        w = CompareWindow(a, b, self.win, a_label=a_label, b_label=b_label)
        w.destroyed.connect(lambda *_: self.compare_windows.remove(w) if w in self.compare_windows else None)
        self.compare_windows.append(w)
        w.show()
        if self.plot_menu is not None:
            self.plot_menu.watch(w)
        return w

    # ------------------------------------------------------------------ plots
    def _watch_plots(self, *_args: object) -> None:
        if self._plots_watched:
            return
        from withscope.gui.recordings.plot_export import PlotContextMenu

        if self.plot_menu is None:
            self.plot_menu = PlotContextMenu(self.win, self.exports.ask_item_image)
        else:
            self.plot_menu.watch()
        if getattr(self.win.metrics, "graphics", None) is not None and \
                getattr(self.win.throughput, "graphics", None) is not None:
            self._plots_watched = True

    # ------------------------------------------------------------------ lifecycle
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt API
        if obj is self.win and event.type() == QEvent.Type.Close and self._tours is not None:
            self._tours.shutdown()  # before the window cancels runs: no step may start new ones
        return False

    def shutdown(self) -> None:
        if self._tours is not None:
            self._tours.shutdown()
        if self._replay is not None:
            self._replay.shutdown()
        if self.history is not None:
            self.history.shutdown()
        for w in list(self.compare_windows):
            w.close()
        self._tasks.cancel_all()

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.keep(task)


def install(win: MainWindow) -> Features:
    """Hook every feature of this module into `win` (a `MainWindow`, after its menus exist)."""
    return Features(win)
