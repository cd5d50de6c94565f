"""`RunController`: starts, stops and awaits the runs of the app on the qasync loop.

Every run - a catalogue entry or the user's own target (`RunRequest`: a script with arguments,
`-m module`, `file.py:function`, `module:function`, a working directory, an interpreter) - runs
in its own process: `run_factory(request, repeat, output)` makes a `core.supervise.ChildRun`, the
runner the CLI uses. Whatever the program does (segfault, `os._exit`, a CPU loop, a blocking
call) happens in that process; the app only reads its pipe and samples its process tree, and
Stop ends it within about two seconds (SIGINT, SIGTERM, then SIGKILL to its process group).

The controller attaches each run's recorder, alerts and own sampler (the child's process tree,
never the app) to the `Bridge`, sends the program's output lines to `console` (a bounded
`ConsoleBuffer`), keeps a strong reference to every task it starts, and reports every outcome -
including errors, crashes and exit codes - as a message (never an exception into Qt, never a
modal dialog). `shutdown()` cancels everything and awaits the cleanup of every run. Loop/GUI
thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from withscope.core.status import RunStatus, ended_on_its_own_terms
from withscope.gui.model.console import ConsoleBuffer

if TYPE_CHECKING:  # the module stays cheap to import: the "Open target" dialog reads RunRequest
    from withscope.gui.bridge.bridge import Bridge

log = logging.getLogger("withscope")

OutputSink = Callable[[str, str], None]  # (stream, line): the program's output, on the loop thread


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run, in the forms `withscope run` takes: `target` is a script (`tool.py`), a module
    (with `module=True`: `python -m target`), `file.py:function`, `module:function` or a
    catalogue name; `args` are the program's arguments; `cwd` its working directory (None: the
    app's); `python` its interpreter (None: the active virtual environment's, else the app's)."""

    target: str
    args: tuple[str, ...] = ()
    module: bool = False
    cwd: str | None = None
    python: str | None = None

    @property
    def name(self) -> str:
        """How the run is shown: the command line after `python`."""
        return " ".join([("-m " if self.module else "") + self.target, *self.args])


RunFactory = Callable[[RunRequest, int, OutputSink | None], Any]


def in_dir(target: str, cwd: str | None) -> str:
    """`target` with a relative file it names taken from `cwd` (as the program will see it),
    when that file exists there; anything else unchanged."""
    if not cwd:
        return target
    where, sep, func = target.rpartition(":")
    path = where if sep and where else target
    if os.path.isabs(path) or not os.path.exists(os.path.join(cwd, path)):
        return target
    full = os.path.join(cwd, path)
    return f"{full}:{func}" if sep and where else full


def console_tag(request: RunRequest, key: int) -> str:
    """How the console names a run's lines: its program (a path's file name) and its number."""
    target = os.path.basename(request.target) if os.path.isabs(request.target) else request.target
    return f"{target} #{key + 1}"


def default_run_factory(request: RunRequest, repeat: int, output: OutputSink | None) -> Any:
    """A not-yet-started `ChildRun` of `request`, its output given to `output` line by line.

    Raises `TargetError` (one line for a person) for a target that cannot be resolved."""
    from withscope.core.runner import RunOptions
    from withscope.core.supervise import ChildRun, child_target

    spec = request.target if request.module else in_dir(request.target, request.cwd)
    target = child_target(spec, request.args, module=request.module)
    return ChildRun(target, RunOptions(repeat=repeat), python=request.python, cwd=request.cwd, output=output)


def _alerts_of(run: Any) -> Callable[[], Any]:
    def get() -> Any:
        alerts = getattr(run, "alerts", ())
        return alerts.alerts if hasattr(alerts, "alerts") else alerts

    return get


@dataclass(slots=True)
class RunEntry:
    key: int
    name: str
    run: Any
    task: asyncio.Task[None]


class RunController(QObject):
    runStarted = Signal(int, str)  # bridge key, name
    runFinished = Signal(int, str, str, str)  # key, name, status, error ("" if none)
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    idle = Signal()  # the last running run ended

    def __init__(
        self,
        bridge: Bridge,
        run_factory: RunFactory | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.run_factory = run_factory or default_run_factory
        self.console = ConsoleBuffer()  # every run's output lines, tagged with the run
        self.entries: dict[int, RunEntry] = {}
        self.tasks: set[asyncio.Task[Any]] = set()  # strong references to every task we start
        self.errors: list[tuple[str, str]] = []  # (name, error) of every failed run, in order
        self.refused: list[tuple[str, str]] = []  # (spec, why) of every run that could not start
        self._stopping = False

    # ----------------------------------------------------------------- queries
    @property
    def running(self) -> list[str]:
        return [e.name for e in self.entries.values()]

    def is_running(self) -> bool:
        return bool(self.entries)

    # ----------------------------------------------------------------- start
    def start(self, request: str | RunRequest, repeat: int = 1) -> bool:
        """Start one run of `request` (a `RunRequest`, or a target with no arguments). Returns
        False (and reports why) when it cannot start."""
        if isinstance(request, str):
            request = RunRequest(request)
        spec = request.name
        name = spec if repeat == 1 else f"{spec} ×{repeat}"
        tag: list[tuple[int, str]] = []  # the run's bridge key and console tag, once it has a key

        def output(stream: str, line: str) -> None:
            key, label = tag[0] if tag else (-1, name)
            self.console.add(key, label, stream, line)

        try:
            run = self.run_factory(request, repeat, output)
        except Exception as exc:  # bad target, runner refused: a message, never a crash
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.errors.append((spec, text))
            self.refused.append((spec, text))
            self.message.emit("error", f"Cannot run {spec}: {text}")
            return False
        # The run's own sampler (its process tree): the metrics dock shows the run, not the app.
        key = self.bridge.attach(run.recorder, name, alerts=_alerts_of(run), sampler=getattr(run, "sampler", None))
        tag.append((key, console_tag(request, key)))
        try:
            run.start()
        except Exception as exc:
            self.bridge.finish(key)
            self.errors.append((spec, str(exc)))
            self.refused.append((spec, str(exc)))
            self.message.emit("error", f"Cannot start {spec}: {exc}")
            return False
        task = asyncio.get_running_loop().create_task(self._follow(key, name, run), name=f"withscope-run-{name}")
        self.entries[key] = RunEntry(key, name, run, task)
        self._keep(task)
        self.runStarted.emit(key, name)
        return True

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # a bug in our own follow-up code: surface it, do not lose it
            log.error("withscope: %s failed", task.get_name(), exc_info=exc)
            self.message.emit("error", f"Internal error in {task.get_name()}: {exc!r}")

    async def _follow(self, key: int, name: str, run: Any) -> None:
        status, error = str(RunStatus.ERROR), ""
        try:
            await run.wait()
            status = str(run.status)
            error = str(getattr(run, "error", "") or "")
        except asyncio.CancelledError:
            # The app is closing or Stop was pressed: make sure the run is cancelled and cleaned up.
            run.cancel()
            await asyncio.shield(self._await_quietly(run))
            status = RunStatus.CANCELLED
            raise
        except Exception as exc:  # the workload crashed in a way the runner did not catch
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self.entries.pop(key, None)
            self.bridge.finish(key)
            self._report(key, name, status, error)
            if not self.entries:
                self.idle.emit()

    @staticmethod
    async def _await_quietly(run: Any) -> None:
        # Cleanup only: the run's own error is reported through its status.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await run.wait()

    def _report(self, key: int, name: str, status: str, error: str) -> None:
        self.runFinished.emit(key, name, status, error)
        if status == RunStatus.ERROR and error:
            self.errors.append((name, error))
            self.message.emit("error", f"{name} failed: {error} (its lifetimes and alerts are kept)")
        elif ended_on_its_own_terms(status):
            # The program's own end (a signal, an exit status) or its time limit: the app goes on.
            self.errors.append((name, error or status))
            why = f" ({error})" if error and error != status else ""
            self.message.emit("warning", f"{name}: {status}{why}; its lifetimes and alerts are kept")

    # ----------------------------------------------------------------- stop
    def stop_all(self) -> None:
        """Cancel every running run (returns at once; `stopped()` reports when all released)."""
        if not self.entries or self._stopping:
            return
        self._stopping = True
        task = asyncio.get_running_loop().create_task(self._stop_all(), name="withscope-stop")
        self._keep(task)

    async def _stop_all(self) -> None:
        try:
            entries = list(self.entries.values())
            recorders = [e.run.recorder for e in entries]
            await self._cancel_and_wait(entries)
            still_open = sum(len(r.open_lifetimes()) for r in recorders)
            n = len(entries)
            if still_open:
                self.message.emit("warning", f"Stopped {n} run(s); {still_open} resource(s) are still open.")
            else:
                self.message.emit("info", f"Stopped {n} run(s): every resource was released.")
        finally:
            self._stopping = False

    async def _cancel_and_wait(self, entries: list[RunEntry]) -> None:
        for e in entries:
            e.run.cancel()
        for e in entries:
            await self._await_quietly(e.run)
        # Then let each follow task finish its bookkeeping.
        tasks = [e.task for e in entries if not e.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def shutdown(self) -> None:
        """Cancel every run and await its cleanup, then every task we started (app exit)."""
        await self._cancel_and_wait(list(self.entries.values()))
        pending = [t for t in self.tasks if not t.done() and t is not asyncio.current_task()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
