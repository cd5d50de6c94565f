"""`withscope run`: a target in its own process, observed from here, then a report.

    withscope run [OPTIONS] script.py [ARGS...]      ARGS go to the script (sys.argv[1:])
    withscope run [OPTIONS] -m package.module [ARGS...]
    withscope run [OPTIONS] file.py:function | package.module:function | CATALOGUE-NAME [OPTIONS]

Everything after a script or `-m MODULE` belongs to the program (`--` is dropped once, as
argparse does); a function or catalogue target takes no arguments, so options written after it
are withscope's (as they always were). `--python PATH` picks the interpreter (default: the active
virtual environment's, else withscope's own).

Start-up order (an empty script's run is mostly start-up): the arguments are parsed and the
target checked with the standard library and `supervise.target` only; the observed process is
then started (`supervise.spawn.spawn_ahead`), and the runner, the rules, the sampler and the
recording store are imported while it starts.

SIGINT, SIGTERM and SIGHUP stop the child (status `stopped`); cleanup and the final rules run,
the recording is finished and the report written, and the exit code is 128 + the signal (130,
143, 129).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from withscope.core.cli import UsageError, fail, positive_float, positive_int, shown
from withscope.core.supervise.target import ChildTarget, child_target
from withscope.core.targets import TargetError

if TYPE_CHECKING:
    from withscope.core.runner import Run
    from withscope.core.snapshot import RunSnapshot
    from withscope.core.store import RecordingWriter
    from withscope.core.supervise import ChildRun
    from withscope.core.supervise.spawn import Ahead

DB_ENV = "WITHSCOPE_DB"  # the runner's fallback for --db (runner.DB_ENV; a test keeps them equal)
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# ----------------------------------------------------------------------------- arguments
def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """TARGET, -m MODULE, --python and the program's ARGS (call before the other options)."""
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="script.py, FILE.py:FUNCTION, MODULE:FUNCTION or a catalogue name")
    p.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE [ARGS]",
                   help="run a module as `python -m MODULE ARGS` (the rest of the line is its arguments)")
    p.add_argument("--python", default=None, metavar="PATH",
                   help="the interpreter that runs the target (default: the active venv's python, else withscope's)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                   help="arguments for the script or module (everything after TARGET)")  # fmt: skip


def setup(p: argparse.ArgumentParser) -> None:
    add_target_arguments(p)  # TARGET [ARGS...], -m MODULE [ARGS...], --python
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N", help="run it N times (default 1)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="S", help="give up after S seconds")
    p.add_argument("--db", default=None, metavar="DSN", help=f"PostgreSQL DSN (default ${DB_ENV}, else SQLite)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the JSON report to FILE ('-': stdout)")
    p.add_argument("--record", default=None, metavar="FILE",
                   help="record the run to FILE (SQLite, written while it runs; open it with the app or `export`)")
    p.add_argument("--fail-on-leak", action="store_true",
                   help="exit 1 when a leak alert was raised (not information such as late-release), or the run "
                        "did not end ok")
    p.add_argument("--scale", type=positive_float, default=1.0, metavar="F", help="workload size factor")
    p.add_argument("--late-release", type=positive_float, default=2.0, metavar="S", help="late-release threshold")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary")
    p.add_argument("--no-auto", dest="auto", action="store_false",
                   help="record only what the program wraps in track(): no automatic instrumentation of the "
                        "files, sockets, connections, processes, threads and temp files it opens")  # fmt: skip


def _raise_usage(message: str) -> Any:
    raise TargetError(f"withscope run: {message}")


def target_from_args(args: argparse.Namespace) -> ChildTarget:
    """The `ChildTarget` the parsed `args` name; options written after a function or catalogue
    target are parsed again (with `setup`) into `args`. Raises `TargetError`."""
    if args.module:
        if args.target is not None:  # pragma: no cover - argparse gives -m the rest of the line
            raise TargetError("give either TARGET or -m MODULE")
        name, *rest = args.module
        return child_target(name, rest, module=True)
    if args.module is not None:
        raise TargetError("-m needs a MODULE")
    if args.target is None:
        raise TargetError("give a TARGET: script.py, -m MODULE, FILE.py:FUNCTION, MODULE:FUNCTION or a catalogue name")
    extra = list(args.args or ())
    target = child_target(args.target, extra)
    if target.kind in ("function", "catalogue") and extra:
        parser = argparse.ArgumentParser(prog="withscope run", add_help=False)
        parser.error = _raise_usage  # type: ignore[method-assign]
        setup(parser)
        again = parser.parse_args([*extra, args.target])
        if again.args or again.target != args.target:
            raise TargetError(
                f"{args.target} takes no arguments (only scripts and -m modules do); got: {' '.join(extra)}"
            )
        for key, value in vars(again).items():
            if key not in ("target", "args", "module") and value != parser.get_default(key):
                setattr(args, key, value)
        target = child_target(args.target, ())
    return target


# ------------------------------------------------------------------------------ progress
class Progress:
    """A progress indicator on stderr: a redrawn line on a TTY, else a line at the start and then
    every `every_s` seconds. With `gate` (a child run), nothing shows until the child has loaded
    the target: a target that cannot be loaded ends as one line of error, alone."""

    FRAMES = "|/-\\"

    def __init__(self, stream: TextIO, tty: bool, every_s: float = 5.0, *, gate: ChildRun | None = None) -> None:
        self.stream = stream
        self.tty = tty
        self.every_s = every_s
        self.gate = gate
        self._last = float("-inf")  # the first update prints at once
        self._i = 0

    def update(self, run: Run) -> None:
        if self.gate is not None and not (self.gate.target_loaded or self.gate.done):
            return
        t = time.perf_counter_ns()
        elapsed = (t - run.t0_ns) / 1e9
        lifetimes = run.recorder.table.count
        i, n = run.progress
        alerts = len(run.engine.alerts)
        text = f"{shown(run.target.name)}: repeat {i}/{n}, {elapsed:.1f} s, {lifetimes} lifetimes, {alerts} alerts"
        if self.tty:
            self._i += 1
            self.stream.write(f"\r\x1b[K{self.FRAMES[self._i % 4]} {text}")
            self.stream.flush()
        elif elapsed - self._last >= self.every_s:
            self._last = elapsed
            self.stream.write(f"withscope: running {text}\n")
            self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


async def run_with_progress(run: Run, progress: Progress | None) -> RunSnapshot:
    """Start `run`, show `progress` while it runs, return its snapshot (Ctrl-C: the run cleans up first)."""
    import asyncio

    run.start()
    waiter = asyncio.ensure_future(run.wait())
    try:
        while not waiter.done():
            if progress is not None:
                progress.update(run)
            await asyncio.wait({waiter}, timeout=0.1 if progress is None or progress.tty else 0.5)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels us; let the run clean up
        run.cancel()
        await asyncio.shield(waiter)
        raise
    finally:
        if progress is not None:
            progress.done()
    return waiter.result()


def run_in_child(
    run: Run, waiter: Callable[[], Awaitable[RunSnapshot]], held: list[int] | None = None
) -> tuple[RunSnapshot, int | None]:
    """Run `waiter()` (which starts `run` and awaits its snapshot) under `asyncio.run` with the
    signals of `HANDLED_SIGNALS` stopping the run (and any already `held`, see `hold_signals`);
    returns (snapshot, the signal that stopped it)."""
    import asyncio

    got: list[int] = []

    async def main() -> RunSnapshot:
        loop = asyncio.get_running_loop()

        def on_signal(sig: int) -> None:
            if not got:
                got.append(sig)
            run.cancel()

        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            if held:
                loop.call_soon(on_signal, held[0])
            return await waiter()
        finally:
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)

    snap = asyncio.run(main())
    return snap, (got[0] if got else None)


@contextlib.contextmanager
def hold_signals() -> Iterator[list[int]]:
    """Until the run's loop handles them: SIGINT, SIGTERM and SIGHUP are noted in the list given
    (no KeyboardInterrupt in the middle of an import, no death that would leave the observed
    process running alone); `run_in_child` acts on them once it has started."""
    held: list[int] = []

    def note(sig: int, _frame: object) -> None:
        held.append(sig)

    previous = {sig: signal.signal(sig, note) for sig in HANDLED_SIGNALS}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: set outside Python


# -------------------------------------------------------------------------------- the run
def handler(args: argparse.Namespace) -> int:
    """`withscope run`: the observed process is started as soon as the arguments are checked
    (`spawn_ahead`, unless a recording is asked for: that one starts with the run), and what
    observing it needs is imported while it starts."""
    from withscope.core.supervise.spawn import default_python, spawn_ahead

    target = target_from_args(args)
    if not getattr(args, "auto", True):
        import dataclasses

        target = dataclasses.replace(target, auto=False)
    if args.db is not None:
        from withscope.core.context import DatabaseConfig
        from withscope.core.redact import redact_dsn

        if not DatabaseConfig(args.db).is_postgres:
            raise UsageError(f"--db wants a postgresql:// DSN, got {redact_dsn(args.db)!r}")
    json_out = check_json_output(args.json, args.record)  # before anything runs or is created
    python = args.python or default_python()
    with contextlib.ExitStack() as stack:
        if args.json == "-":  # stdout carries the report alone; the program's prints go to stderr
            stack.enter_context(stdout_to_stderr())
        held = stack.enter_context(hold_signals())
        ahead = None
        if args.record is None:
            dsn = args.db if args.db is not None else (os.environ.get(DB_ENV) or None)
            try:
                ahead = spawn_ahead(target.agent_spec(), python=python, repeat=args.repeat, scale=args.scale, dsn=dsn)
            except OSError as exc:  # nothing ran: bad usage
                return fail(f"cannot start {python}: {exc.strerror or exc}")
        try:
            run, writer = _observe(args, target, python, ahead)
        except BaseException:
            if ahead is not None:
                ahead.abandon()
            raise
        tty = sys.stderr.isatty()  # a redrawn line would garble a program's own output on the terminal
        quiet = args.quiet or (tty and target.kind in ("script", "module"))
        progress = None if quiet else Progress(sys.stderr, tty, gate=run)
        try:  # SIGINT/SIGTERM/SIGHUP stop the child; the run is then finished, recorded and reported
            snap, stopped_by = run_in_child(run, lambda: run_with_progress(run, progress), held)
            if run.target_error is not None and stopped_by is None:  # nothing ran: bad usage, as before
                finish_recording(writer, snap)
                return fail(run.target_error)
        finally:
            if writer is not None and not run.done:
                writer.close()  # no outcome to write: the file keeps status "running" and what it holds
    return report(args, snap, writer, json_out, stopped_by)


def _observe(args: argparse.Namespace, target: ChildTarget, python: str,
             ahead: Ahead | None) -> tuple[ChildRun, RecordingWriter | None]:  # fmt: skip
    """The run (adopting the process started `ahead`) and its recording, if one is asked for."""
    from withscope.core.runner import RunOptions
    from withscope.core.supervise import ChildRun

    options = RunOptions(
        repeat=args.repeat,
        timeout_s=args.timeout,
        db=args.db,
        scale=args.scale,
        late_release_s=args.late_release,
    )
    run = ChildRun(target, options, python=python, ahead=ahead)
    if args.record is None:
        return run, None
    from withscope.core.store import RecordingError, record_run

    try:
        return run, record_run(run, args.record)  # before start: the file holds the run from t0
    except RecordingError as exc:
        raise UsageError(f"--record: {exc}") from None


def report(args: argparse.Namespace, snap: RunSnapshot, writer: RecordingWriter | None, json_out: Path | None,
           stopped_by: int | None) -> int:  # fmt: skip
    """Finish the recording, write the JSON report and the summary; the exit code."""
    record_error = finish_recording(writer, snap)
    json_error = None
    if args.json == "-":
        from withscope.core.report import write_report

        write_report(snap, "-")
    elif json_out is not None:
        from withscope.core.exporters import json_report
        from withscope.core.outputs import OutputError

        try:
            json_report.write_file(snap, json_out)
        except (OutputError, OSError) as exc:  # checked before the run; changed since, or the disk is full
            json_error = f"--json: {exc}" if isinstance(exc, OutputError) else f"--json: {json_out}: {exc}"
    if not args.quiet:
        from withscope.core.exporters.text import format_summary
        from withscope.core.redact import redact_text

        out = sys.stdout if args.json != "-" else sys.stderr
        print(redact_text(format_summary(snap)), file=out)
        if writer is not None and record_error is None:
            print(f"\nRecorded to {shown(writer.path)} (open it with `withscope`, or `withscope export`)", file=out)
    for error in (record_error, json_error):
        if error is not None:
            print(f"withscope: {shown(error)}", file=sys.stderr)
    if stopped_by is not None:
        print("withscope: interrupted", file=sys.stderr)
        return 128 + stopped_by
    if record_error is not None or json_error is not None:
        return 2
    # Information (late-release: held long, yet released) never fails the gate; leaks do.
    leaks = [a for a in snap.alerts if a.severity != "info"]
    if args.fail_on_leak and (leaks or snap.status != "ok"):
        if snap.status != "ok" and not leaks:
            # a run that did not finish is no proof of "no leak": fail the gate, and say why
            print(f"withscope: --fail-on-leak: the run ended with status {str(snap.status)!r}, so it proves nothing",
                  file=sys.stderr)
        return 1
    return 0


def check_json_output(json_arg: str | None, record_arg: str | None) -> Path | None:
    """The file `--json` will write (None: no file), checked before the run starts: a directory,
    a device, a FIFO, a foreign file, an unwritable directory or the `--record` file is refused
    with `UsageError`."""
    if json_arg is None or json_arg == "-":
        return None
    from withscope.core.exporters import json_report
    from withscope.core.outputs import OutputError

    inputs = (record_arg,) if record_arg is not None else ()
    try:
        json_report.check_output(json_arg, inputs=inputs)
    except OutputError as exc:
        problem = exc.problem.replace("the input", "the --record file") if inputs else exc.problem
        raise UsageError(f"--json: {exc.path}: {problem}") from None
    if record_arg is not None and os.path.abspath(record_arg) == os.path.abspath(json_arg):
        raise UsageError(f"--json: {json_arg}: is the --record file; give each its own name")
    return Path(json_arg)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While `--json -` runs the program: file descriptor 1 - which the observed process
    inherits, and which this process's own `sys.stdout` writes to - points at stderr, so the
    program's prints never mix with the report written to the real stdout afterwards."""
    sys.stdout.flush()
    try:
        out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not file-backed (a test's capture): Python level only
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    saved = os.dup(out_fd)
    try:
        os.dup2(err_fd, out_fd)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, out_fd)
        os.close(saved)


def finish_recording(writer: RecordingWriter | None, snap: RunSnapshot) -> str | None:
    """Write the run's outcome and close the recording; the error text if that failed."""
    if writer is None:
        return None
    from withscope.core.store import RecordingError

    try:
        writer.finish_with(snap)
    except RecordingError as exc:
        return str(exc)
    return None
