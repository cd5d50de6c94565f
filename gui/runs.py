"""`RunController`: starts, stops and awaits the runs of the app on the qasync loop.

Runs come from `core.runner` (the same runner as the CLI) through `run_factory(spec, repeat)`;
the controller attaches each run's recorder, alerts and sampler to the `Bridge`, keeps a strong
reference to every task it starts, and reports every outcome - including errors - as a message
(never an exception into Qt, never a modal dialog). `shutdown()` cancels everything and awaits
the cleanup of every run. Loop/GUI thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from .bridge import Bridge

log = logging.getLogger("withscope")

RunFactory = Callable[[str, int, Any], Any]


def default_run_factory(spec: str, repeat: int, sampler: Any) -> Any:
    """A not-yet-started `core.runner.Run` of `spec` (catalogue name or file.py:function).

    Raises `TargetError` (one line for a person) for a target that cannot be resolved."""
    from withscope.core.runner import Run, RunOptions

    return Run(spec, RunOptions(repeat=repeat), sampler=sampler)


def make_sampler() -> Any:
    from withscope.core.sampler import Sampler

    return Sampler()


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
        *,
        sampler: Any = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.run_factory = run_factory or default_run_factory
        # One app-wide psutil sampler shared by every run: metrics keep moving between runs, so
        # the fall back to baseline after Stop is visible. Started with the first run.
        self.sampler = sampler if sampler is not None else make_sampler()
        bridge.follow_sampler(self.sampler)
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
    def start(self, spec: str, repeat: int = 1) -> bool:
        """Start one run of `spec`. Returns False (and reports why) when it cannot start."""
        try:
            run = self.run_factory(spec, repeat, self.sampler)
        except Exception as exc:  # bad target, runner refused: a message, never a crash
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.errors.append((spec, text))
            self.refused.append((spec, text))
            self.message.emit("error", f"Cannot run {spec}: {text}")
            return False
        name = spec if repeat == 1 else f"{spec} ×{repeat}"
        key = self.bridge.attach(
            run.recorder,
            name,
            alerts=_alerts_of(run),
        )
        try:
            if not self.sampler.running:
                self.sampler.start()
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
        status, error = "error", ""
        try:
            await run.wait()
            status = str(getattr(run, "status", "ok"))
            error = str(getattr(run, "error", "") or "")
        except asyncio.CancelledError:
            # The app is closing or Stop was pressed: make sure the run is cancelled and cleaned up.
            run.cancel()
            await asyncio.shield(self._await_quietly(run))
            status = "cancelled"
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
        if status == "error" and error:
            self.errors.append((name, error))
            self.message.emit("error", f"{name} failed: {error} (its lifetimes and alerts are kept)")

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
        await self.sampler.stop()
