"""`ChildRun`: a `Run` whose target executes in its own process, observed through the agent.

Same public interface and lifecycle as `core.runner.Run` (subscribe / start / cancel / wait,
`status`, `error`, `progress`, `alerts`, `recorder`, `sampler`, `snapshot()`), so the CLI and the
app switch by constructing it instead::

    run = ChildRun(child_target("tool.py", ["-v"]), RunOptions(timeout_s=30), python="/usr/bin/python3")
    run.start(); snap = await run.wait()

What a child run does:
1. A temp dir (a catalogue entry's `WorkloadContext.tmpdir`), then the agent is started under
   `python` (default: the active venv's, else this interpreter) in a new session; see `spawn.py`.
2. The pipe is read on the loop (`connect_read_pipe`, never blocking it); each batch goes to the
   `ChildRecorder` (`run.recorder`), drained by the run's timer (live rules) and by anyone else;
   when batches pile up, reading pauses while a worker thread folds them (`_PipeProtocol`): the
   pipe fills and the child waits, so a recording at any event rate loses nothing.
   A psutil `Sampler` reads the child's whole process tree (`tree=True`): the parent's own fds,
   threads and memory never enter the run's figures. Forked children are in `meta["child_pids"]`.
3. The run ends when the observed process exits. A timeout, `cancel()` or an outside cancellation
   stops it by escalating SIGINT -> SIGTERM -> SIGKILL to its process group (`SIGINT_GRACE_S`,
   `SIGTERM_GRACE_S` apart); processes of the group still alive after the main one exited are
   stopped the same way (SIGTERM, then SIGKILL).
4. The final rules see the lifetimes as the target's own code left them (what only the child's
   cleanup released counts as open: the agent marks `workload end` before that cleanup), then
   PostgreSQL backends are terminated and the temp dirs removed, as `Run` does.

Status: "pending" -> "running" -> "ok" | "exited N" | "crashed: SIGNAME" | "timed out" | "stopped"
| "error" (`error` holds the exception's one line, e.g. "ValueError: boom (raised at app.py:3 in
main)"). Threading rules are `Run`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from withscope.core.context import WorkloadContext
from withscope.core.marks import MarkKind, parse, stop
from withscope.core.status import RunStatus, describe

from ..agent.wire import FrameReader, WireError  # noqa: TID252 (mypy sees this tree as `core`)
from ..events import Outcome  # noqa: TID252
from ..recorder import Batch  # noqa: TID252
from ..rules.select import final_candidates  # noqa: TID252
from ..runner import Run, RunOptions  # noqa: TID252
from ..sampler import Sampler  # noqa: TID252
from .feed import ChildRecorder
from .output import OutputReader, OutputSink
from .spawn import (
    Ahead,
    Spawned,
    default_python,
    group_members,
    remove_shim,
    run_spec,
    signal_group,
    spawn_agent,
    wait_exit,
)
from .target import ChildTarget, child_target

log = logging.getLogger("withscope")

SIGINT_GRACE_S = 0.6  # after SIGINT, before SIGTERM
SIGTERM_GRACE_S = 0.6  # after SIGTERM, before SIGKILL
EOF_WAIT_S = 1.0  # after the process exited, how long the rest of the pipe may take without progress
INBOX_FRAMES = 8  # batches read and not yet folded before reading pauses (each at most 16,384 events)


class _PipeProtocol(asyncio.Protocol):
    """Reads the child's pipe on the loop, which only splits and decodes frames (a batch's
    columns are raw bytes: decoding is a copy). The fold is done off the loop: once
    `INBOX_FRAMES` batches wait in the recorder's inbox, reading pauses and a worker thread drains
    the recorder (the fold and its subscribers - a recording writer's bounded queue may make that
    drain wait); reading resumes when the drain is over. So a consumer slower than the program
    leaves the pipe full and the child's writes wait (see `core.agent.stream`): back-pressure
    from the disk to the observed program, with bounded memory on both sides."""

    def __init__(self, run: ChildRun) -> None:
        self.run = run
        self.reader = FrameReader()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.ReadTransport | None = None
        self.catching_up = False  # reading is paused while a worker thread folds the inbox

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except WireError as exc:
            self.run.meta["wire_error"] = str(exc)
            return
        for msg in messages:
            self.run._on_message(msg)
        if not self.catching_up and self.run.child_recorder.inbox_frames >= INBOX_FRAMES:
            self._catch_up()

    def _catch_up(self) -> None:
        transport = self.transport
        if transport is None:
            return
        self.catching_up = True
        transport.pause_reading()
        done = asyncio.get_running_loop().run_in_executor(None, self.run.child_recorder.drain)
        done.add_done_callback(self._caught_up)

    def _caught_up(self, done: asyncio.Future[Any]) -> None:
        self.catching_up = False
        if not done.cancelled() and done.exception() is not None:
            log.error("withscope: folding the child's batches failed", exc_info=done.exception())
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def read_to_end(self) -> None:
        """Wait until the pipe's end has been read: as long as batches keep coming in (a backlog
        being folded), and `EOF_WAIT_S` at most without any."""
        rec = self.run.child_recorder
        while not self.closed.done():
            before = (self.reader.bytes, rec.batches_folded)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.closed), EOF_WAIT_S)
            if (self.reader.bytes, rec.batches_folded) == before and not self.catching_up:
                return

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class ChildRun(Run):
    """One run of a target in a child process; see the module docstring."""

    def __init__(
        self,
        target: ChildTarget | str,
        options: RunOptions | None = None,
        *,
        python: str | None = None,
        cwd: str | None = None,
        sampler: Sampler | None = None,  # accepted for Run's signature; a child run samples its own tree
        run_id: str | None = None,
        ahead: Ahead | None = None,  # a process `spawn_ahead` started for this run: adopted, not started again
        output: OutputSink | None = None,  # capture the program's stdout/stderr: lines to output(stream, line)
    ) -> None:
        if ahead is not None and output is not None:
            raise ValueError("a process started ahead shares this process's output: it cannot be captured")
        if ahead is not None:
            python, cwd, run_id = ahead.python, ahead.cwd, ahead.run_id
        target = target if isinstance(target, ChildTarget) else child_target(target)
        opts = options or RunOptions()
        super().__init__(target, opts, sampler=Sampler(opts.sample_interval_s, tree=True), run_id=run_id)
        self.target: ChildTarget = target
        self.python = python or default_python()
        self.cwd = cwd
        # The model is folded from the child's batches: swap in a ChildRecorder (same time zero).
        self._unsub_recorder()
        self.child_recorder = ChildRecorder(name=f"run {self.id} {target.name}")
        self.recorder = self.child_recorder
        if ahead is not None:  # the process started before this run existed: its start is time zero
            self.recorder.t0_ns, self.recorder.wall_t0 = ahead.t0_ns, ahead.wall_t0
        self.t0_ns, self.wall_t0 = self.recorder.t0_ns, self.recorder.wall_t0
        self._unsub_recorder = self.recorder.subscribe(self._on_batch)
        self.meta.update(interpreter=self.python, process="child", pid="")
        self.meta.pop("python", None)
        self.child_pid: int | None = None
        self.returncode: int | None = None
        self._spawned: Spawned | None = None
        self._end_msg: tuple[Any, ...] | None = None
        self._workload_end_ns: int | None = None
        self._stop_reason: str | None = None
        self._stopped_by: str | None = None
        # Set when the child could not load the target (no such function or module): one line.
        self.target_error: str | None = None
        self.target_loaded = False  # the child loaded the target and began running it ("run start")
        self._cancel_event = asyncio.Event()
        self._ahead = ahead
        self._output_sink = output
        self._output: OutputReader | None = None
        if ahead is not None and ahead.spec != self._agent_spec(ahead.tmpdir):
            raise ValueError(f"the process started ahead was given another run's spec: {ahead.spec}")

    def cancel(self) -> None:
        """Stop the run as soon as possible (the process group gets SIGINT, then SIGTERM, then
        SIGKILL). Safe from any thread, any number of times; no effect once the child has exited."""
        if self._hop_to_loop(self.cancel):
            return
        if self._task is None:  # never started: Run's own bookkeeping (status cancelled, nothing ran)
            if self._ahead is not None:
                self._ahead.abandon()
                self._ahead = None
            super().cancel()
            return
        if self._cancel_requested or self._phase in ("final", "cleanup", "done"):
            return
        # The run's task is not cancelled: the child is stopped by _main, which may not have begun.
        self._cancel_requested = True
        self._stop.set()
        self._cancel_event.set()

    # ----------------------------------------------------------------- messages, batches
    def _on_message(self, msg: tuple[Any, ...]) -> None:
        """A decoded message from the pipe (on the loop thread)."""
        tag = msg[0]
        if tag == "batch" and len(msg) == 8:
            self.child_recorder.feed(msg)
        elif tag == "hello":
            self.meta["python"] = str(msg[2])
            self.meta["hot_path"] = str(msg[3])
        elif tag == "end":
            self._end_msg = msg
            if msg[1] == "target":
                self.target_error = str(msg[2])

    def _on_batch(self, batch: Batch) -> None:
        # On the draining thread: the live rules get what the target's own code did (releases
        # made by the child's cleanup, after "workload end", are judged by the final rules).
        for m in batch.marks:
            info = parse(m.text)
            if info.kind is MarkKind.RUN_START:
                self.target_loaded = True
            elif info.kind is MarkKind.WORKLOAD_END and self._workload_end_ns is None:
                self._workload_end_ns = m.t_ns
            elif info.kind is MarkKind.REPEAT_START:
                self.progress = (info.repeat, info.of)
                self._call_soon(self._notify)
            elif info.kind is MarkKind.REPEAT_END:
                self._call_soon(lambda: self.sampler.sample_now(connections=True))
        released = batch.released
        end = self._workload_end_ns
        if end is not None and released:
            rel = self.recorder.table.released_ns
            released = tuple(lid for lid in released if rel[lid] <= end)
        self._pending_ids.append((batch.acquired, released, batch.streams, batch.aborted))

    def _call_soon(self, fn: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn)

    # -------------------------------------------------------------------------- the run
    def _agent_spec(self, tmpdir: Path) -> dict[str, Any]:
        o = self.options
        return run_spec(self.target.agent_spec(), repeat=o.repeat, tmpdir=tmpdir, dsn=self.db.dsn,
                        application_name=self.db.application_name, scale=o.scale,
                        lossless=self.child_recorder.lossless)  # fmt: skip

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        ahead, self._ahead = self._ahead, None
        tmpdir = ahead.tmpdir if ahead is not None else Path(tempfile.mkdtemp(prefix=f"withscope-{self.id}-"))
        self.context = WorkloadContext(tmpdir=tmpdir, db=self.db, stop=self._stop, scale=self.options.scale)
        outside_cancel = False
        output = self._output_sink is not None
        try:
            spawned = ahead.spawned if ahead is not None else spawn_agent(self.python, self._agent_spec(tmpdir),
                                                                          cwd=self.cwd,
                                                                          capture_output=output)  # fmt: skip
        except OSError as exc:
            shutil.rmtree(tmpdir, ignore_errors=True)
            self.status, self.error = RunStatus.ERROR, f"cannot start {self.python}: {exc.strerror or exc}"
            self.target_error = self.error  # nothing ran: for the CLI, bad usage
            self.end_ns = time.perf_counter_ns()
            self._final = self._build_snapshot()
            self._phase = "done"
            self._unsub_recorder()
            self._notify()
            return
        self._spawned = spawned
        self.child_pid = pid = spawned.pid
        self.meta["pid"] = str(pid)
        exited: asyncio.Future[None] = loop.create_future()

        def waiter() -> None:
            wait_exit(pid)
            def settle() -> None:
                if not exited.done():
                    exited.set_result(None)

            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle)

        threading.Thread(target=waiter, name=f"withscope-wait-{pid}", daemon=True).start()
        pipe = os.fdopen(spawned.read_fd, "rb", buffering=0)
        transport, proto = await loop.connect_read_pipe(lambda: _PipeProtocol(self), pipe)
        if self._output_sink is not None:
            streams = {"stdout": spawned.proc.stdout, "stderr": spawned.proc.stderr}
            self._output = await OutputReader.attach(streams, self._output_sink)
        self.sampler.pid = pid
        self.sampler.start()
        self._phase = "workload"
        self._set_status(RunStatus.RUNNING)
        drain_task = loop.create_task(self._drain_loop(), name=f"withscope-drain-{self.id}")
        stop_asked: asyncio.Future[Any] = loop.create_task(self._cancel_event.wait())
        try:
            async with asyncio.timeout(self.options.timeout_s):
                await asyncio.wait({exited, stop_asked}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                self._stop_reason = RunStatus.STOPPED
        except TimeoutError:
            self._stop_reason = RunStatus.TIMED_OUT
        except asyncio.CancelledError:  # someone cancelled the run's task instead of calling cancel()
            self._stop_reason = RunStatus.STOPPED
            outside_cancel = True
        finally:
            stop_asked.cancel()
        self._phase = "final"
        # Stopping and cleanup run to completion even if someone cancels this task meanwhile.
        finish = loop.create_task(self._finish_child(exited, proto, transport, drain_task))
        while not finish.done():
            try:
                await asyncio.shield(finish)
            except asyncio.CancelledError:
                outside_cancel = True
                if me is not None:
                    me.uncancel()
            except Exception:  # read from the task below: the run still ends, with what it has
                break
        failure = finish.exception()
        if failure is not None:
            log.error("withscope: cleanup of run %s failed", self.id, exc_info=failure)
            self.meta["cleanup_error"] = f"{type(failure).__name__}: {failure}"
        self.status, self.error = describe(self.returncode, self._end_msg, self._stop_reason, self.options.timeout_s)
        self.end_ns = time.perf_counter_ns()
        self._final = self._build_snapshot()
        self._phase = "done"
        self._unsub_recorder()
        self._notify()
        if outside_cancel:
            raise asyncio.CancelledError

    async def _stop_child(self, exited: asyncio.Future[None]) -> None:
        """SIGINT, SIGTERM, SIGKILL to the group until the main process has exited."""
        assert self.child_pid is not None
        steps = ((signal.SIGINT, SIGINT_GRACE_S), (signal.SIGTERM, SIGTERM_GRACE_S), (signal.SIGKILL, 5.0))
        for sig, grace in steps:
            if exited.done():
                return
            self.recorder.mark(stop(sig.name))
            self._stopped_by = sig.name
            signal_group(self.child_pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), grace)

    async def _stop_survivors(self) -> None:
        """Stop what the target left running in its group after the main process exited."""
        assert self.child_pid is not None
        pgid = self.child_pid
        survivors = await asyncio.to_thread(group_members, pgid, pgid)
        seen = sorted(self.sampler.tree_pids | set(survivors))
        if seen:
            alive = set(survivors)
            self.meta["child_pids"] = ", ".join(
                f"{p} ({'alive at the end, stopped' if p in alive else 'ended'})" for p in seen
            )
        if not survivors:
            return
        self.recorder.mark(stop(f"{len(survivors)} leftover process(es) of the run"))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not signal_group(pgid, sig):
                return
            deadline = time.monotonic() + SIGTERM_GRACE_S
            while time.monotonic() < deadline:
                if not await asyncio.to_thread(group_members, pgid, pgid):
                    return
                await asyncio.sleep(0.05)

    async def _finish_child(
        self, exited: asyncio.Future[None], proto: _PipeProtocol, transport: asyncio.ReadTransport,
        drain_task: asyncio.Task[None],
    ) -> None:  # fmt: skip
        """Stop, judge and clean up; the process and the temp folders go whatever fails on the way."""
        assert self._spawned is not None
        assert self.context is not None
        spawned = self._spawned
        try:
            await self._wind_down(exited, proto, transport, drain_task)
        finally:
            if spawned.proc.poll() is None:  # not reaped yet, so the group id is still the run's
                signal_group(spawned.pid, signal.SIGKILL)
                self.returncode = await asyncio.to_thread(spawned.proc.wait)
            transport.close()
            if self._output is not None:
                self._output.close()
            shutil.rmtree(self.context.tmpdir, ignore_errors=True)
            remove_shim(spawned.shim)

    async def _wind_down(
        self, exited: asyncio.Future[None], proto: _PipeProtocol, transport: asyncio.ReadTransport,
        drain_task: asyncio.Task[None],
    ) -> None:  # fmt: skip
        assert self._spawned is not None
        spawned = self._spawned
        if self._stop_reason is not None:
            await self._stop_child(exited)
        await self._stop_survivors()
        await proto.read_to_end()  # the last frames the process wrote
        if self._output is not None:  # and the last lines it printed
            await self._output.read_to_end(EOF_WAIT_S)
        transport.close()
        self.returncode = await asyncio.to_thread(spawned.proc.wait)  # reaps: the group id is free again
        if self._stopped_by:
            self.meta["stopped_by"] = self._stopped_by
        await self.sampler.stop()
        # --- final rules, on the lifetimes as the target's own code left them
        self._live_update()
        drain_task.cancel()
        await asyncio.gather(drain_task, return_exceptions=True)
        rec = self.recorder
        # Columnar: only the lifetimes a rule could report on are built (see rules/select.py).
        now_ns = time.perf_counter_ns()
        picked = final_candidates(self._frozen_lifetimes(), self.engine.config, now_ns, self._workload_end_ns)
        await self._final_rules(self._as_of_workload_end(list(picked)), now_ns)
        # --- cleanup
        self._phase = "cleanup"
        await self._end_backends()
        rec.drain()
        self._pending_ids.clear()

    def _as_of_workload_end(self, lifetimes: list[Any]) -> list[Any]:
        end = self._workload_end_ns
        if end is None:
            return lifetimes
        return [
            dataclasses.replace(lt, released_ns=None, outcome=Outcome.OPEN, error=None, error_type=None,
                                suppressed=False, suppression_declared=False, released_by_close=False)
            if lt.released_ns is not None and lt.released_ns > end else lt
            for lt in lifetimes
        ]  # fmt: skip

    def __repr__(self) -> str:
        return f"<ChildRun {self.id} {self.target.name!r} pid={self.child_pid} {self.status}>"
