"""The runs of this session, and saving them as recordings.

`RunHistory` follows the `RunController`: it keeps every run it starts (bounded), so a finished
run can still be saved, exported or compared after the controller forgot it. With a recording
folder set ("Record runs to a folder"), each run is written there live with `record_run` and
finished with its final snapshot when it ends; a write failure is a message, never a crash.

`snapshot_for_export(...)` decides what "the current run" is for Save/Export: the open
recording, else the run of the selected bar, else the latest run.

GUI thread only (the recording writer itself writes on its own thread).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow

if TYPE_CHECKING:
    from withscope.gui.recordings.replay import Replay
    from withscope.gui.recordings.window import RecordingsWindow

log = logging.getLogger("withscope")

MAX_RUNS = 50  # finished runs kept for Save / Export / Compare (their recorders hold the data)
RECORDING_SUFFIX = ".withscope.db"


def slug(text: str) -> str:
    """A file-name friendly form of a target name: 'class-cm/faulty' -> 'class-cm-faulty'."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s[:80] or "run"


def default_name(target: str, suffix: str = RECORDING_SUFFIX) -> str:
    return f"{slug(target)}-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"


@dataclass(slots=True)
class SessionRun:
    key: int  # the bridge key of the run
    name: str
    run: Any  # core.runner.Run (or a test double with recorder / snapshot())
    finished: bool = False
    writer: Any = None  # RecordingWriter while recording to a folder
    recorded_to: Path | None = None

    def snapshot(self) -> Any:
        """The run's snapshot: final once it finished, else what is known so far."""
        return self.run.snapshot()


class RunHistory(QObject):
    """Every run the controller started in this session (see the module docstring)."""

    recorded = Signal(str)  # path of a recording finished in the folder

    def __init__(self, win: RecordingsWindow) -> None:
        assert isinstance(win, QMainWindow)  # the main window: this object's parent
        super().__init__(win)
        self.win = win
        self.runs: OrderedDict[int, SessionRun] = OrderedDict()
        self.record_dir: Path | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        win.controller.runStarted.connect(self._on_started)
        win.controller.runFinished.connect(self._on_finished)

    # ------------------------------------------------------------------ queries
    def get(self, key: int) -> SessionRun | None:
        return self.runs.get(key)

    def finished_runs(self) -> list[SessionRun]:
        return [r for r in self.runs.values() if r.finished]

    def latest(self, *, finished: bool = False) -> SessionRun | None:
        for r in reversed(self.runs.values()):
            if r.finished or not finished:
                return r
        return None

    # ------------------------------------------------------------------ recording to a folder
    def set_record_dir(self, path: Path | None) -> None:
        """Record every run started from now on into `path` (None: stop doing so)."""
        self.record_dir = path

    # ------------------------------------------------------------------ following the controller
    def _on_started(self, key: int, name: str) -> None:
        entry = self.win.controller.entries.get(key)
        if entry is None:
            return
        sr = SessionRun(key, name, entry.run)
        self.runs[key] = sr
        self._trim()
        if self.record_dir is not None:
            self._start_recording(sr, self.record_dir)

    def _start_recording(self, sr: SessionRun, folder: Path) -> None:
        from withscope.core.store import RecordingError, record_run

        path = folder / default_name(sr.name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            sr.writer = record_run(sr.run, path)
            sr.recorded_to = path
        except (RecordingError, OSError) as exc:
            self.win.messages.show_message("error", f"Cannot record {sr.name}: {exc}")

    def _on_finished(self, key: int, _name: str, _status: str, _error: str) -> None:
        sr = self.runs.get(key)
        if sr is None:
            return
        sr.finished = True
        if sr.writer is not None:
            task = asyncio.get_event_loop().create_task(self._finish_writer(sr), name="withscope-finish-recording")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _finish_writer(self, sr: SessionRun) -> None:
        from withscope.core.store import RecordingError

        writer, sr.writer = sr.writer, None
        if writer is None:  # shutdown() finished it before this task ran
            return
        failure: str | None
        try:
            await writer.afinish_with(sr.snapshot())
        except RecordingError as exc:
            failure = f"Recording {sr.name} failed: {exc}"
            log.error("withscope: %s", failure)
        except Exception as exc:
            log.exception("withscope: finishing the recording of %s failed", sr.name)
            failure = f"Recording {sr.name} failed: {exc!r}"
        else:
            failure = None
        if self.win.shut_down:
            # The write is over (a failure is logged). This task outlives the window on purpose (the app waits for it
            # before it leaves), and this object and the window may be deleted by now: tell no one.
            return
        if failure is not None:
            self.win.messages.show_message("error", failure)
            return
        self.recorded.emit(str(sr.recorded_to))
        self.win.status_running.setText(f"Finished {sr.name} — recorded to {sr.recorded_to}")

    def _trim(self) -> None:
        while len(self.runs) > MAX_RUNS:
            victim = next((k for k, r in self.runs.items() if r.finished and r.writer is None), None)
            if victim is None:
                return
            del self.runs[victim]

    def shutdown(self) -> None:
        """Finish (or close) every recording still being written. The runs are over by now."""
        for sr in self.runs.values():
            writer, sr.writer = sr.writer, None
            if writer is None:
                continue
            try:
                if getattr(sr.run, "done", True):
                    writer.finish_with(sr.snapshot())
                else:
                    writer.close()
            except Exception:
                log.exception("withscope: finishing the recording of %s at exit failed", sr.name)


def snapshot_for_export(win: RecordingsWindow, history: RunHistory, replay: Replay | None) -> tuple[Any, str] | None:
    """(snapshot, description) of what Save / Export act on, or None when there is nothing.

    The open recording first (what the views show); else the run of the selected timeline bar;
    else the latest run of the session (finished or not).
    """
    if replay is not None and replay.active:
        snap = replay.snapshot
        assert snap is not None  # active: a recording is shown
        return snap, f"the recording {replay.path.name if replay.path else snap.target}"
    row = getattr(win.timeline.item, "selected", None)
    store = win.bridge.store
    if row is not None and 0 <= row < store.n:
        sr = history.get(int(store.run[row]))
        if sr is not None:
            return sr.snapshot(), f"the run {sr.name}"
    sr = history.latest()
    if sr is not None:
        return sr.snapshot(), f"the run {sr.name}"
    return None
