"""`Run`: one workload run on the current asyncio loop (plain asyncio headless, qasync in the GUI).

Lifecycle (all on the loop thread unless noted)::

    run = Run("class-cm/faulty", RunOptions(repeat=3))   # or a Target; raises TargetError
    unsubscribe = run.subscribe(on_change)               # RunChange: status/progress/new alerts
    run.start()                                          # needs a running loop; returns run
    ...                                                  # run.recorder / run.alerts / run.snapshot() live
    run.cancel()                                         # any time, any thread; idempotent
    snap = await run.wait()                              # RunSnapshot once cleanup is done

Status (core/status.py): pending -> running -> ok | error | cancelled. `progress` is (repeat i, of N).

What a run does, in order:
1. A fresh `Recorder` (created in `__init__`, so a GUI can subscribe before `start`; its t0 is
   the run's time zero), a temp dir (`WorkloadContext.tmpdir`) and
   `DatabaseConfig(dsn, application_name=f"withscope-{id}")`. The psutil `Sampler` is the one
   passed in (shared, e.g. the app's) or a private one; one that is not running is started for
   the run and stopped after it.
2. Each repeat runs the workload with the recorder active: an async workload as a task
   created inside the activation (it inherits the recorder's context variable); a blocking one
   (catalogue `blocking=True`, or a sync user function) in a fresh daemon thread through
   `contextvars.copy_context().run`, joined before the repeat ends. Marks `repeat i/N start`
   and `... end` are recorded, with a psutil sample (fresh connection count) after each end.
3. A drain timer (`drain_interval_s`, 10 Hz) drains the recorder and feeds the live rules, so
   gc-release, exit-raised, suppressed-exception and late-release alerts arrive while it runs
   (others may drain the same recorder too, e.g. a GUI bridge: the run sees every batch).
4. When the workload returns, raises (status error; everything it leaked is still reported),
   times out (error "timed out after S s") or is cancelled: stop flag set, blocking thread
   awaited (up to `stop_grace_s`), drain, then the final rules (unreleased, temp-file-left,
   growth, db-backend-leak - asking pg_stat_activity) BEFORE cleanup. Marks: "run start",
   "workload end", "cleanup".
5. Cleanup: `ctx.leftovers.close_all()`, `gc.collect()` (and a few loop turns so finalizers
   run), PostgreSQL backends of the run terminated, temp dir removed; then a last drain so the
   releases made by cleanup are recorded (they do not alert again).

Threading rules: a Run belongs to the loop it was started on. `cancel()` may be called from
any thread. Callbacks (`subscribe`) run on the loop thread, must be quick and not block; one
that raises is logged and ignored. Never cancel the run's task yourself: call `cancel()` and
`await run.wait()` (cleanup survives an outside cancellation of the run's task, which
`wait()` then raises). OS-level growth rules read process-wide psutil numbers: runs in parallel in
one process blur each other's fd/thread/RSS levels.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import os
import platform
import secrets
import shutil
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from withscope.core.context import DatabaseConfig, WorkloadContext
from withscope.core.probes import existing_paths, gather_db_facts, terminate_backends
from withscope.core.status import RunStatus

from . import marks
from .events import (
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_EXIT_RAISED,
    OUT_GC,
    OUT_OPEN,
    Alert,
    Lifetime,
    StreamStats,
)
from .recorder import Batch, Recorder
from .redact import redact_dsn, redact_mapping, redact_optional, redact_text, register_dsn
from .rules import (
    AlertEngine,
    DbFacts,
    RuleConfig,
    RuleContext,
    open_server_connections,
)
from .rules.select import final_candidates
from .sampler import Sampler
from .snapshot import RunSnapshot, TableLifetimes
from .targets import Target, resolve_target
from .track import SKIP_FILES

log = logging.getLogger("withscope")

DB_ENV = "WITHSCOPE_DB"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run. `db` None falls back to $WITHSCOPE_DB, else SQLite in the run's temp dir."""

    repeat: int = 1
    timeout_s: float | None = None  # for all repeats together
    db: str | None = None
    scale: float = 1.0
    late_release_s: float = 2.0
    sample_interval_s: float = 0.1
    drain_interval_s: float = 0.1
    stop_grace_s: float = 5.0  # how long a blocking workload may take to honour the stop flag
    rules: RuleConfig | None = None  # overrides late_release_s when given

    def rule_config(self) -> RuleConfig:
        return self.rules if self.rules is not None else RuleConfig(late_release_s=self.late_release_s)

    def dsn(self) -> str | None:
        return self.db if self.db is not None else (os.environ.get(DB_ENV) or None)


@dataclass(frozen=True, slots=True)
class RunChange:
    """Sent to subscribers when the status, the progress or the alerts of a run change."""

    run: Run
    status: str
    progress: tuple[int, int]
    new_alerts: tuple[Alert, ...] = ()


class WorkloadExit(Exception):
    """A workload called sys.exit(): reported as an error instead of ending the program."""


_LIB_DIRS = tuple(
    {os.path.dirname(os.__file__), os.path.dirname(asyncio.__file__), os.path.dirname(threading.__file__)}
)


def error_text(exc: BaseException) -> str:
    """'ValueError: boom (raised at app.py:12 in load)' - one line for a person, secrets redacted.
    The site is the innermost frame outside the standard library and withscope's wrappers (else
    the innermost)."""
    msg = str(exc).strip()
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    text = text.splitlines()[0]
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    skip = SKIP_FILES | {__file__}  # withscope's own wrappers are never the culprit
    own = [f for f in frames if not f.filename.startswith(_LIB_DIRS) and f.filename not in skip]
    pick = own[-1] if own else (frames[-1] if frames else None)
    if pick is not None:
        path = pick.filename
        if not path.startswith("<"):
            try:
                rel = os.path.relpath(path)
                path = rel if not rel.startswith("..") else path
            except ValueError:
                pass
        text += f" (raised at {path}:{pick.lineno} in {pick.name})"
    return redact_text(text)  # a driver's error may echo the DSN it was given


class Run:
    """One run of a target; see the module docstring for lifecycle and threading rules."""

    def __init__(
        self,
        target: Target | str,
        options: RunOptions | None = None,
        *,
        sampler: Sampler | None = None,
        run_id: str | None = None,
    ) -> None:
        self.target = target if isinstance(target, Target) else resolve_target(target)
        self.options = options or RunOptions()
        if self.options.repeat < 1:
            raise ValueError("repeat must be at least 1")
        self.id = run_id or secrets.token_hex(4)
        self.recorder = Recorder(name=f"run {self.id} {self.target.name}")
        self.sampler = sampler if sampler is not None else Sampler(self.options.sample_interval_s)
        self.engine = AlertEngine(self.options.rule_config())
        self.status: str = RunStatus.PENDING
        self.error: str | None = None
        self.progress = (0, self.options.repeat)
        dsn = self.options.dsn()
        register_dsn(dsn)  # its password is scrubbed from every text from now on, whatever the shape
        self.db = DatabaseConfig(dsn=dsn, application_name=f"withscope-{self.id}")
        self.context: WorkloadContext | None = None
        # The zero of every time of this run: fixed here, so what subscribes before `start()`
        # (a recording writer) and the final snapshot share it.
        self.t0_ns = self.recorder.t0_ns
        self.wall_t0 = self.recorder.wall_t0
        self.meta: dict[str, str] = self._meta()
        self.end_ns: int | None = None
        self._subscribers: list[Callable[[RunChange], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel_requested = False
        self._phase = "pending"  # pending | workload | final | cleanup | done
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending_ids: list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = []
        self._open: dict[int, int] = {}  # open lifetime id -> acquired_ns (live rules)
        self._late_seen: set[int] = set()  # open ids already handed to late-release
        self._final: RunSnapshot | None = None
        self._owns_sampler = False
        self._unsub_recorder = self.recorder.subscribe(self._on_batch)

    # ------------------------------------------------------------------ public API
    @property
    def alerts(self) -> list[Alert]:
        """Every alert so far, oldest first (live ones during the run, then the final ones)."""
        return list(self.engine.alerts)

    @property
    def done(self) -> bool:
        return self._phase == "done"

    def subscribe(self, callback: Callable[[RunChange], None]) -> Callable[[], None]:
        """Call `callback(change)` on the loop thread at every status/progress/alert change."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def start(self) -> Run:
        """Schedule the run on the running loop. Call once, from the loop thread."""
        if self._task is not None or self._phase != "pending":
            raise RuntimeError("a Run can be started once")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("Run.start() needs a running event loop (call it from a coroutine)") from None
        self._loop = loop
        self._task = loop.create_task(self._main(), name=f"withscope-run-{self.id}")
        return self

    def _hop_to_loop(self, fn: Callable[[], None]) -> bool:
        """True when called off the run's loop thread: `fn` is then scheduled on that loop (the
        caller returns); False on the loop thread, or before the run has a loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return False
        loop.call_soon_threadsafe(fn)
        return True

    def cancel(self) -> None:
        """Stop the run as soon as possible; every resource of the run is released by cleanup.
        Safe from any thread, any number of times; no effect once cleanup has begun."""
        if self._hop_to_loop(self.cancel):
            return
        if self._cancel_requested or self._phase in ("final", "cleanup", "done"):
            return
        self._cancel_requested = True
        self._stop.set()
        if self._phase == "pending":  # never started: nothing to release
            self._phase = "done"
            self.status = RunStatus.CANCELLED
            self.end_ns = time.perf_counter_ns()
            self._final = self._build_snapshot()
            self._notify()
            return
        if self._task is not None and self._phase == "workload":
            self._task.cancel()

    async def wait(self) -> RunSnapshot:
        """Wait for the run (and its cleanup) to finish; returns the final snapshot. Cancelling
        the waiter does not cancel the run."""
        if self._final is not None and self._task is None:
            return self._final
        if self._task is None:
            raise RuntimeError("the run was not started")
        await asyncio.shield(self._task)
        assert self._final is not None
        return self._final

    def snapshot(self) -> RunSnapshot:
        """Everything known now (the final snapshot once done). Call on the loop thread."""
        if self._final is not None:
            return self._final
        return self._build_snapshot()

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.target.name!r} {self.status} {self.progress[0]}/{self.progress[1]}>"

    # -------------------------------------------------------------------- internals
    def _notify(self, new_alerts: tuple[Alert, ...] = ()) -> None:
        change = RunChange(self, self.status, self.progress, new_alerts)
        for cb in list(self._subscribers):
            try:
                cb(change)
            except Exception:
                log.exception("withscope: a run subscriber failed")

    def _on_batch(self, batch: Batch) -> None:
        # Runs on whichever thread drained (the drain timer, or a GUI drain): only collect ids.
        self._pending_ids.append(
            (batch.acquired, batch.released, batch.streams, tuple(getattr(batch, "aborted", ())))
        )

    def _fold_pending(self, now_ns: int) -> tuple[list[Lifetime], list[StreamStats]]:
        """What the live rules need since the last call, read from the recorder's columns so
        only the few lifetimes a live rule could report are materialized: releases by the GC,
        exits that raised or swallowed an error, holds longer than the late-release threshold,
        and ended streams. Updates the open set (id -> acquired_ns). Call outside any recorder
        subscriber (on the loop thread)."""
        pending, self._pending_ids = self._pending_ids, []
        rec = self.recorder
        table = rec.table
        limit_ns = int(self.engine.config.late_release_s * 1e9)
        picked: set[int] = set()
        touched: set[int] = set()
        for acquired, released, streams, aborted in pending:
            for lid in acquired:
                if lid < len(table.outcome) and table.outcome[lid] == OUT_OPEN:
                    self._open[lid] = table.acquired_ns[lid]
            for lid in released:
                self._open.pop(lid, None)
                if lid >= len(table.outcome):
                    continue
                code, flags = table.outcome[lid], table.flags[lid]
                held = table.released_ns[lid] - table.acquired_ns[lid]
                swallowed = flags & FLAG_SUPPRESSED and not flags & FLAG_DECLARED
                if code in (OUT_GC, OUT_EXIT_RAISED) or swallowed or held > limit_ns:
                    picked.add(lid)
            for lid in aborted:
                self._open.pop(lid, None)
                picked.discard(lid)
            touched.update(streams)
        for lid, acquired_ns in self._open.items():
            if now_ns - acquired_ns > limit_ns and lid not in self._late_seen:
                self._late_seen.add(lid)
                picked.add(lid)
        stream_stats = [s for lid in sorted(touched) if (s := rec.stream(lid)) is not None]
        picked.update(s.lifetime_id for s in stream_stats if s.ended)
        lifetimes = [lt for lid in sorted(picked) if (lt := rec.lifetime(lid)) is not None]
        return lifetimes, stream_stats

    async def _final_rules(self, lifetimes: Sequence[Lifetime], now_ns: int) -> None:
        """The end-of-run rules on `lifetimes` (as the workload left them), with the facts they need
        gathered first: the run's PostgreSQL backends and its temp files still on disk."""
        db: DbFacts | None = None
        if self.db.is_postgres and self.db.dsn:
            db = await gather_db_facts(self.db.dsn, self.db.application_name, len(open_server_connections(lifetimes)))
            self.meta["db_check"] = db.error or f"{len(db.backends)} backend(s) left"
        rec = self.recorder
        final_ctx = RuleContext(
            lifetimes=lifetimes,
            streams=rec.streams(),
            samples=self.sampler.history(since_ns=self.t0_ns),
            marks=rec.marks(),
            now_ns=now_ns,
            final=True,
            t0_ns=self.t0_ns,
            existing_paths=existing_paths(lifetimes),
            db=db,
        )
        new = self.engine.update(final_ctx, final=True)
        if new:
            self._notify(tuple(new))

    async def _end_backends(self) -> None:
        """Cleanup: end the PostgreSQL backends the run left (idle-in-transaction ones hold locks)."""
        if self.db.is_postgres and self.db.dsn:
            killed = await terminate_backends(self.db.dsn, self.db.application_name)
            if killed:
                self.meta["backends_terminated"] = str(killed)

    def _live_update(self) -> None:
        # The clock is read before the drain: every event that happened before `now` is folded
        # by it, so a lifetime still open afterwards was open at `now`. Read after a long drain
        # (a large backlog), it would call open what was released meanwhile (false late-release).
        now = time.perf_counter_ns()
        self.recorder.drain()
        lifetimes, streams = self._fold_pending(now)
        if not lifetimes and not streams:
            return
        ctx = RuleContext(lifetimes=lifetimes, streams=streams, now_ns=now, final=False, t0_ns=self.t0_ns)
        new = self.engine.update(ctx, final=False)
        if new:
            self._notify(tuple(new))

    async def _drain_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.drain_interval_s)
            try:
                self._live_update()
            except Exception:
                log.exception("withscope: live rule update failed")

    def _set_status(self, status: str) -> None:
        self.status = status
        self._notify()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        tmpdir = Path(tempfile.mkdtemp(prefix=f"withscope-{self.id}-"))
        self.context = WorkloadContext(tmpdir=tmpdir, db=self.db, stop=self._stop, scale=self.options.scale)
        if not self.sampler.running:
            self.sampler.start()
            self._owns_sampler = True
        self._phase = "workload"
        self._set_status(RunStatus.RUNNING)
        drain_task = loop.create_task(self._drain_loop(), name=f"withscope-drain-{self.id}")
        outside_cancel = False
        final_status, error = RunStatus.OK, None
        rec = self.recorder
        with rec:
            rec.mark(marks.RUN_START)
            try:
                async with asyncio.timeout(self.options.timeout_s):
                    n = self.options.repeat
                    for i in range(1, n + 1):
                        if self._cancel_requested:
                            raise asyncio.CancelledError
                        self.progress = (i, n)
                        self._notify()
                        rec.mark(marks.repeat_start(i, n))
                        self.sampler.sample_now()
                        await self._run_once(i)
                        rec.mark(marks.repeat_end(i, n))
                        self.sampler.sample_now(connections=True)
            except TimeoutError:
                final_status, error = RunStatus.ERROR, f"timed out after {self.options.timeout_s:g} s"
            except asyncio.CancelledError:
                final_status = RunStatus.CANCELLED
                if self._cancel_requested:
                    if me is not None:
                        me.uncancel()
                else:
                    outside_cancel = True
            except Exception as exc:
                final_status, error = RunStatus.ERROR, error_text(exc)
            self._phase = "final"
            self._stop.set()
            rec.mark(marks.WORKLOAD_END)
            # Cleanup runs to completion even if someone cancels this task meanwhile.
            finish = loop.create_task(self._finish(drain_task), name=f"withscope-cleanup-{self.id}")
            while not finish.done():
                try:
                    await asyncio.shield(finish)
                except asyncio.CancelledError:
                    outside_cancel = True
                    if me is not None:
                        me.uncancel()
            if finish.exception() is not None:
                log.error("withscope: cleanup of run %s failed", self.id, exc_info=finish.exception())
        self.status, self.error = final_status, error
        if self.error is None and "cleanup_error" in self.meta and final_status == RunStatus.ERROR:
            self.error = self.meta["cleanup_error"]
        self.end_ns = time.perf_counter_ns()
        self._final = self._build_snapshot()
        self._phase = "done"
        self._unsub_recorder()
        self._notify()
        if outside_cancel:
            raise asyncio.CancelledError

    async def _run_once(self, i: int) -> None:
        assert self.context is not None
        target, ctx = self.target, self.context
        if target.is_async:
            coro = target.call(ctx)
            if not asyncio.iscoroutine(coro):
                raise TypeError(f"{target.name} is async but returned {type(coro).__name__}")
            work = asyncio.get_running_loop().create_task(_guard(coro), name=f"withscope-{self.id}-{i}")
            await work
            if self._cancel_requested:  # the workload swallowed our cancellation
                raise asyncio.CancelledError
            return
        await self._run_blocking(i)

    async def _run_blocking(self, i: int) -> None:
        assert self.context is not None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        target, wctx = self.target, self.context
        ctx = contextvars.copy_context()

        def settle(result: Any, exc: BaseException | None) -> None:
            if fut.done():
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        def body() -> None:
            result: Any = None
            exc: BaseException | None = None
            try:
                result = ctx.run(target.call, wctx)
                if asyncio.iscoroutine(result):  # a sync function that returned a coroutine
                    result = asyncio.run_coroutine_threadsafe(result, loop).result()
            except SystemExit as e:
                exc = WorkloadExit(f"the workload called sys.exit({e.code!r})")
            except BaseException as e:
                exc = e
            with contextlib.suppress(RuntimeError):  # RuntimeError: the loop is gone, nobody waits
                loop.call_soon_threadsafe(settle, result, exc)

        thread = threading.Thread(target=body, name=f"withscope-{self.id}-{i}", daemon=True)
        self._threads.append(thread)
        thread.start()
        try:
            await fut
        finally:
            await self._join_threads(self.options.stop_grace_s)

    async def _join_threads(self, grace_s: float) -> None:
        """Wait (without blocking the loop) for workload threads to end, up to `grace_s`."""
        deadline = time.monotonic() + grace_s
        delay = 0.0005
        while any(t.is_alive() for t in self._threads) and time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        if alive:
            self.meta["stuck_threads"] = ", ".join(t.name for t in alive)

    async def _finish(self, drain_task: asyncio.Task[None]) -> None:
        """Final rules, then cleanup, then the last drain (see the module docstring)."""
        assert self.context is not None
        ctx = self.context
        rec = self.recorder
        await self._join_threads(self.options.stop_grace_s)
        if self._threads:
            self.meta["cleanup_error"] = (
                f"the blocking workload did not stop within {self.options.stop_grace_s:g} s; "
                "its thread is still running"
            )
        # --- final rules, before anything is cleaned up
        self._live_update()
        drain_task.cancel()
        await asyncio.gather(drain_task, return_exceptions=True)
        # Columnar: the rules get only the lifetimes they could report on, built from the
        # recorder's columns (not millions of objects after a long run).
        now_ns = time.perf_counter_ns()
        await self._final_rules(final_candidates(self._frozen_lifetimes(), self.engine.config, now_ns), now_ns)
        # --- cleanup
        self._phase = "cleanup"
        rec.mark(marks.CLEANUP)
        errors = await ctx.leftovers.close_all()
        if errors:
            self.meta["leftover_errors"] = "; ".join(errors)
        with warnings.catch_warnings():
            # What the collector finds unclosed is already recorded (outcome gc); Python's own
            # ResourceWarning about it would only repeat that, as an error under -W error.
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        for _ in range(3):  # let finalizers scheduled by the collection (async generators) run
            await asyncio.sleep(0)
        await self._end_backends()
        shutil.rmtree(ctx.tmpdir, ignore_errors=True)
        if self._owns_sampler:
            await self.sampler.stop()
        rec.drain()
        self._pending_ids.clear()

    def _meta(self) -> dict[str, str]:
        o = self.options
        meta = {
            "run_id": self.id,
            "repeat": str(o.repeat),
            "timeout_s": "" if o.timeout_s is None else f"{o.timeout_s:g}",
            "db": redact_dsn(self.db.dsn) if self.db.dsn else "sqlite",
            "application_name": self.db.application_name,
            "scale": f"{o.scale:g}",
            "late_release_s": f"{self.engine.config.late_release_s:g}",
            "sample_interval_s": f"{self.sampler.interval_s:g}",
            "python": platform.python_version(),
            "host": platform.node(),
            "pid": str(os.getpid()),
        }
        return redact_mapping(meta)

    def _frozen_lifetimes(self) -> TableLifetimes:
        """Every lifetime so far as a columnar sequence (drains first)."""
        rec = self.recorder
        rec.drain()
        with rec._lock:  # the recorder's columns are written under it
            return TableLifetimes(rec.table)

    def _build_snapshot(self) -> RunSnapshot:
        rec = self.recorder
        end = self.end_ns
        return RunSnapshot(
            target=self.target.name,
            status=self.status,
            error=redact_optional(self.error),
            t0_ns=self.t0_ns,
            wall_t0=self.wall_t0,
            end_ns=end,
            lifetimes=self._frozen_lifetimes(),
            alerts=tuple(self.engine.alerts),
            streams=tuple(rec.streams()),
            samples=tuple(self.sampler.history(since_ns=self.t0_ns, until_ns=end)),
            marks=tuple(rec.marks()),
            dropped_events=rec.dropped,
            meta=redact_mapping(self.meta),  # leftover and cleanup errors quote exceptions
        )


async def _guard(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        return await coro
    except SystemExit as e:
        raise WorkloadExit(f"the workload called sys.exit({e.code!r})") from None


async def run_target(
    target: Target | str, options: RunOptions | None = None, *, sampler: Sampler | None = None
) -> RunSnapshot:
    """Run a target to the end on the current loop and return its snapshot."""
    return await Run(target, options, sampler=sampler).start().wait()
