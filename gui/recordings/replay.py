"""Replay of a recording in the main window's own docks, with a time slider.

`Replay.open_file(path)` reads the recording on a worker thread (the loop's executor: qasync
runs it on a QThread) while the status bar says so, then `load()` shows it: the live views are
cleared (runs sample their own processes: no live sample lands on the recording's time axis)
and a `ReplayRecorder` is attached to the window's `Bridge` like a run's recorder. The `ReplayBar`
(a toolbar) scrubs (`seek`) and plays at 1x, 4x or "max"; forward moves apply the next changes,
backward moves rebuild the recorder up to the earlier time. The bridge's clock is the replay
time, so open bars end at the slider.

A replay and live runs never share the views: opening refuses while runs are going, and a run
started during a replay ends the replay first. A corrupt, truncated, foreign or newer-version file
is a message naming the file and the problem - never an exception into Qt, never a modal dialog.

GUI thread only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QMainWindow, QSlider, QStyle, QToolBar, QToolButton, QWidget
from withscope.core.snapshot import RunSnapshot
from withscope.core.status import RunStatus
from withscope.core.store import RecordingError, open_recording
from withscope.gui.model.replay_feed import ReplayFeed, ReplayRecorder
from withscope.gui.model.tasks import TaskKeeper

if TYPE_CHECKING:
    from withscope.gui.recordings.window import RecordingsWindow

log = logging.getLogger("withscope")

SLIDER_STEPS = 10_000
FRAME_MS = 33
SPEEDS = {"1×": 1.0, "4×": 4.0, "max": 0.0}  # 0: the whole run in about MAX_PLAY_S
MAX_PLAY_S = 3.0
SEEK_DEBOUNCE_MS = 40


def format_time(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


class ReplayBar(QToolBar):
    """Play/pause, speed, time slider, time, close. Emits requests; `Replay` does the work."""

    playToggled = Signal(bool)
    speedChanged = Signal(str)
    positionRequested = Signal(float)  # fraction 0..1 of the run
    closeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Replay", parent)
        self.setObjectName("replayBar")
        self.setMovable(False)
        style = self.style()
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.title = QLabel()
        self.title.setObjectName("replayTitle")
        self.title.setContentsMargins(6, 0, 8, 0)
        self.play_button = QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setIcon(self._play_icon)
        self.play_button.setToolTip("Play the recording from the slider (from the start when at the end)")
        self.play_button.toggled.connect(self._on_play)
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setToolTip("Replay speed: real time, four times faster, or as fast as the views keep up")
        self.speed.currentTextChanged.connect(self.speedChanged)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("replaySlider")
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setPageStep(SLIDER_STEPS // 20)
        self.slider.setMinimumWidth(240)
        self.slider.setToolTip("Drag to see the run as it was at that moment")
        self.slider.valueChanged.connect(lambda v: self.positionRequested.emit(v / SLIDER_STEPS))
        self.time_label = QLabel("0.00 s / 0.00 s")
        self.time_label.setObjectName("replayTime")
        self.time_label.setContentsMargins(8, 0, 8, 0)
        self.close_button = QToolButton()
        self.close_button.setText("Close replay")
        self.close_button.setToolTip("Leave the recording and go back to live runs")
        self.close_button.clicked.connect(self.closeRequested)
        self.addWidget(self.title)
        self.addWidget(self.play_button)
        self.addWidget(self.speed)
        self.addWidget(self.slider)
        self.addWidget(self.time_label)
        self.addWidget(self.close_button)

    def _on_play(self, on: bool) -> None:
        self.play_button.setIcon(self._pause_icon if on else self._play_icon)
        self.playToggled.emit(on)

    def set_playing(self, on: bool) -> None:
        if self.play_button.isChecked() != on:
            self.play_button.blockSignals(True)
            self.play_button.setChecked(on)
            self.play_button.blockSignals(False)
            self.play_button.setIcon(self._pause_icon if on else self._play_icon)

    def show_position(self, fraction: float, t_s: float, total_s: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(max(0.0, min(1.0, fraction)) * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self.time_label.setText(f"{format_time(t_s)} / {format_time(total_s)}")


class Replay(QObject):
    """A recording shown in the window's docks (see the module docstring)."""

    opened = Signal(str)  # the recording's name
    closed = Signal()

    def __init__(self, win: RecordingsWindow) -> None:
        assert isinstance(win, QMainWindow)  # the main window: this object's parent, the replay bar's host
        super().__init__(win)
        self.win = win
        self.bridge = win.bridge
        self.feed: ReplayFeed | None = None
        self.name = ""
        self.path: Path | None = None
        self.key: int | None = None
        self.t_ns = 0
        self.speed = 1.0
        self.playing = False
        self.bar: ReplayBar | None = None
        self._recorder: ReplayRecorder | None = None
        self._rebuilding = False
        self._opening = 0  # token of the latest open_file call
        self._last_wall = 0.0
        self._pending_fraction: float | None = None
        self._tasks = TaskKeeper(lambda text: self.win.messages.show_message("error", text),
                                 lambda: self.win.shut_down)
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(FRAME_MS)
        self._play_timer.timeout.connect(self._on_frame)
        self._seek_timer = QTimer(self)
        self._seek_timer.setSingleShot(True)
        self._seek_timer.setInterval(SEEK_DEBOUNCE_MS)
        self._seek_timer.timeout.connect(self._apply_pending_seek)
        win.controller.runStarted.connect(self._on_live_run)
        self.bridge.cleared.connect(self._on_cleared)

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        return self.feed is not None

    @property
    def snapshot(self) -> RunSnapshot | None:
        """The whole recording (None when no replay is shown)."""
        return None if self.feed is None else self.feed.snapshot

    # ------------------------------------------------------------------ opening
    def open_file(self, path: str | Path) -> asyncio.Task[bool]:
        """Read `path` off the GUI thread and show it; the task's result says whether it worked."""
        task = asyncio.get_event_loop().create_task(self._open(Path(path)), name="withscope-open-recording")
        self._keep(task)
        return task

    async def _open(self, path: Path) -> bool:
        self._opening += 1
        token = self._opening
        if self.win.controller.is_running():
            self.win.messages.show_message(
                "warning", f"Stop the running workloads (Ctrl+.) before opening {path.name}: a recording "
                "replaces what the views show.")
            return False
        status = self.win.status_running
        status.setText(f"Opening {path.name}…")
        loop = asyncio.get_running_loop()
        try:
            snapshot = await loop.run_in_executor(None, open_recording, path)
            feed = await loop.run_in_executor(None, ReplayFeed, snapshot)
        except RecordingError as exc:
            status.setText("Idle — pick a workload and press Run")
            self.win.messages.show_message("error", f"Cannot open the recording: {exc}")
            return False
        except Exception as exc:  # never crash the app on a bad file
            log.exception("withscope: opening %s failed", path)
            status.setText("Idle — pick a workload and press Run")
            self.win.messages.show_message("error", f"Cannot open the recording {path}: {type(exc).__name__}: {exc}")
            return False
        if token != self._opening or self.win.shut_down:
            return False  # a later open superseded this one, or the window closed meanwhile
        if self.win.controller.is_running():
            self.win.messages.show_message("warning", f"A run started while {path.name} was read: not shown.")
            return False
        self.load(feed, path)
        return True

    def load(self, feed: ReplayFeed | RunSnapshot, path: str | Path | None = None) -> None:
        """Show a recording (a feed, or a snapshot to build one from) at its end. GUI thread."""
        if isinstance(feed, RunSnapshot):
            feed = ReplayFeed(feed)
        self.close(clear=False)
        self.feed = feed
        snap = feed.snapshot
        self.path = Path(path) if path is not None else None
        self.name = f"{snap.target} (recording)"
        self.bridge.clock = lambda: self.t_ns
        self._rebuild(feed.end_ns)
        bar = self._ensure_bar()
        where = self.path.name if self.path is not None else "recording"
        bar.title.setText(f"Replay: {where} — {snap.target}, {snap.status}")
        bar.show()
        self._show_position()
        self.win.timeline.fit()
        self.win.status_running.setText(f"Replaying {where}")
        note = (" The run did not finish (the process was stopped or killed): it shows everything up to the "
                "last write." if snap.status == RunStatus.RUNNING else "")
        self.win.messages.show_message(
            "info" if not note else "warning",
            f"Opened {where}: {snap.target} ({snap.status}), {len(snap.lifetimes):,} lifetimes, "
            f"{len(snap.alerts):,} alerts. Drag the time slider or press Play to replay it.{note}")
        self.opened.emit(where)

    def _ensure_bar(self) -> ReplayBar:
        if self.bar is None:
            self.bar = ReplayBar(self.win)
            self.win.addToolBarBreak()
            self.win.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)
            self.bar.playToggled.connect(self.set_playing)
            self.bar.speedChanged.connect(self.set_speed)
            self.bar.positionRequested.connect(self._on_slider)
            self.bar.closeRequested.connect(lambda: self.close(clear=True))
        return self.bar

    # ------------------------------------------------------------------ time
    def seek(self, t_ns: int) -> None:
        """Show the run as it was at `t_ns` (clamped to the recording)."""
        feed = self.feed
        if feed is None:
            return
        t_ns = max(feed.start_ns, min(int(t_ns), feed.end_ns))
        if t_ns >= self.t_ns and self._recorder is not None:
            self._recorder.advance(t_ns)
            self.t_ns = t_ns
            self.bridge.tick()
        else:
            self._rebuild(t_ns)
        self._show_position()

    def seek_fraction(self, fraction: float) -> None:
        feed = self.feed
        if feed is not None:
            self.seek(feed.start_ns + round(max(0.0, min(1.0, fraction)) * feed.duration_ns))

    def _rebuild(self, t_ns: int) -> None:
        feed = self.feed
        assert feed is not None
        self._rebuilding = True
        try:
            if self.key is not None:
                self.bridge.finish(self.key)
                self.key = None
            self.bridge.clear()
            self.t_ns = t_ns
            self._recorder = feed.recorder_at(t_ns, self.name)
            self.key = self.bridge.attach(
                self._recorder, self.name,
                alerts=lambda: feed.alerts_until(self.t_ns), samples=lambda: feed.samples_until(self.t_ns),
            )  # fmt: skip
            self.bridge.tick()
        finally:
            self._rebuilding = False

    def _show_position(self) -> None:
        feed = self.feed
        if feed is None or self.bar is None:
            return
        total = feed.duration_ns
        frac = 1.0 if total <= 0 else (self.t_ns - feed.start_ns) / total
        self.bar.show_position(frac, (self.t_ns - feed.start_ns) / 1e9, total / 1e9)

    def _on_slider(self, fraction: float) -> None:
        self.set_playing(False)
        self._pending_fraction = fraction
        self._seek_timer.start()  # coalesce a drag into a few seeks

    def _apply_pending_seek(self) -> None:
        if self._pending_fraction is not None:
            frac, self._pending_fraction = self._pending_fraction, None
            self.seek_fraction(frac)

    def set_speed(self, text: str) -> None:
        """"1×", "4×" (or "1x", "4x") or "max"; anything else plays in real time."""
        key = text.strip().lower()
        self.speed = SPEEDS.get(key[:-1] + "×" if key[:-1].isdigit() and key.endswith("x") else key, 1.0)

    def set_playing(self, on: bool) -> None:
        feed = self.feed
        on = on and feed is not None
        if on and feed is not None and self.t_ns >= feed.end_ns:
            self.seek(feed.start_ns)  # at the end: play from the start
        self.playing = on
        self._last_wall = time.monotonic()
        if on:
            self._play_timer.start()
        else:
            self._play_timer.stop()
        if self.bar is not None:
            self.bar.set_playing(on)

    def _on_frame(self) -> None:
        feed = self.feed
        if feed is None:
            self.set_playing(False)
            return
        now = time.monotonic()
        dt, self._last_wall = now - self._last_wall, now
        if self.speed > 0:
            step = dt * 1e9 * self.speed
        else:
            step = max(dt * 16e9, feed.duration_ns * dt / MAX_PLAY_S)
        self.seek(self.t_ns + max(1, int(step)))
        if self.t_ns >= feed.end_ns:
            self.set_playing(False)

    # ------------------------------------------------------------------ ending
    def close(self, *, clear: bool = True) -> None:
        """Leave the replay; `clear` also empties the views (else the caller replaces them)."""
        self._play_timer.stop()
        self._seek_timer.stop()
        self.playing = False
        if self.bar is not None:
            self.bar.set_playing(False)
            self.bar.hide()
        if self.feed is None:
            return
        self.feed = None
        self._recorder = None
        self.bridge.clock = time.perf_counter_ns
        key, self.key = self.key, None
        if key is not None:
            self._rebuilding = True
            try:
                self.bridge.finish(key)
                if clear:
                    self.bridge.clear()
            finally:
                self._rebuilding = False
        if not self.win.controller.is_running() and not self.win.shut_down:
            self.win.status_running.setText("Idle — pick a workload and press Run")
        self.closed.emit()

    def _on_live_run(self, *_args: object) -> None:
        if self.active:
            self.close(clear=True)
            self.win.messages.show_message("info", "The replay was closed: a live run started.")

    def _on_cleared(self) -> None:
        if self.active and not self._rebuilding:
            self.close(clear=False)  # the user pressed Clear: the recording is gone from the views

    def shutdown(self) -> None:
        """Stop the timers (the window has shut down: its bridge no longer ticks)."""
        self._play_timer.stop()
        self._seek_timer.stop()
        self.playing = False
        self.bridge.clock = time.perf_counter_ns

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.keep(task)
