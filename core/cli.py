"""The headless command line (never imports Qt; plain asyncio via `asyncio.run`).

    withscope list [--json]
    withscope run TARGET [--repeat N] [--timeout S] [--db DSN] [--json FILE] [--record FILE]
                         [--fail-on-leak] [--scale F] [--late-release S] [--quiet]
    withscope check [--db DSN] [--json] [--scale F] [--repeat N]
    withscope export RECORDING --format chrome|csv|json|html|png|svg -o OUT [--what T] [--plot P]
    withscope demo --check [NAME|FILE]

`export` to png/svg and `demo` without `--check` need the app: `gui/launcher.py` sends them to
the GUI layer (Qt offscreen for the images); here they fail with exit 2 and say so.

Exit codes: 0 ran (alerts or not; a target that raised is reported with status error), 1
with --fail-on-leak alerts found or a run that did not end `ok` (or a catalogue mismatch for
`check`), 2 bad usage or unknown target (one line on stderr naming the problem and what
exists, no traceback), 130 interrupted.

Other subcommands plug in with `register(name, help, setup, handler)` (`setup(parser)` adds
arguments, `handler(args) -> int`) before `main` runs; `is_headless` decides what the
launcher sends here instead of opening the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from withscope.core.context import DatabaseConfig

from . import units
from .events import Alert
from .kinds import redact_dsn
from .redact import redact_optional, redact_text, register_dsn
from .rules.engine import RULE_NAMES
from .runner import DB_ENV, Run, RunOptions
from .sampler import Sampler
from .snapshot import RunSnapshot
from .targets import TargetError, catalogue
from .textsafe import printable
from .workloads.base import Workload

if TYPE_CHECKING:
    from .store import RecordingWriter

# The exporters, the recording store, the report writer and the tours are imported by the
# commands that use them (and `build_parser(only=...)` sets up only the command being run), so
# `withscope run` does not pay for what `export` or `demo` need.

VERSION = "withscope 0.1.0"
HEADLESS = frozenset({"list", "run", "check", "export", "catalogue-check", "-h", "--help", "--version"})
GROWTH_RULES = frozenset({"fd-growth", "connection-growth", "thread-growth", "memory-growth"})
# Rules judged from timings: a machine busy with something else can blur one run of them, so
# `check` runs an entry whose result differs in these rules once more (and says so).
TIMING_RULES = frozenset({"throughput-decay", "late-release"})

Setup = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str | Callable[[], str]  # a callable is asked when the help is shown (imports stay lazy)
    setup: Setup
    handler: Handler

    def help_text(self) -> str:
        return self.help if isinstance(self.help, str) else self.help()


_COMMANDS: dict[str, Command] = {}


def register(name: str, help: str | Callable[[], str], setup: Setup, handler: Handler) -> None:
    """Add (or replace) a subcommand."""
    _COMMANDS[name] = Command(name, help, setup, handler)


def is_headless(args: list[str]) -> bool:
    """True when `args` name a subcommand that runs without a display."""
    if not args:
        return False
    if args[0] == "demo":
        return bool({"--check", "-h", "--help"} & set(args))
    return args[0] in HEADLESS or args[0] in _COMMANDS


def gui_command(args: list[str]) -> str | None:
    """The subcommand the GUI layer must handle, if any: ``"demo"`` (the app in tour mode) or
    ``"export"`` to png/svg (plots rendered by Qt offscreen). None: `main` handles `args`.

    Only sniffs the arguments (never imports Qt); the GUI layer parses them with `build_parser`.
    """
    if not args or {"-h", "--help"} & set(args):
        return None
    if args[0] == "demo":
        return None if "--check" in args else "demo"
    if args[0] == "export":
        from .exporters import GUI_FORMATS

        sniff = argparse.ArgumentParser(add_help=False)
        sniff.add_argument("-f", "--format")
        known, _ = sniff.parse_known_args(args[1:])
        return "export" if known.format in GUI_FORMATS else None
    return None


# The desktop app's options (parsed by gui/launcher.py, which core must not import; a test keeps
# this text and the launcher's parser in step).
APP_USAGE = """\
Without a COMMAND, withscope opens the desktop app:
  withscope [--run NAME ...] [--repeat N] [--db DSN] [--theme {light,dark}]
            [--screenshot FILE.png] [--quit-after SECONDS] [--no-settings]
  withscope FILE.db     open a recording (withscope run --record FILE.db) in the app

  --run NAME            start a workload (catalogue name or file.py:function) at launch; repeatable
  --repeat N            run each --run workload N times
  --db DSN              PostgreSQL for the database workloads (default $WITHSCOPE_DB, else SQLite)
  --theme {light,dark}  force a theme (default: follow the system)
  --screenshot FILE.png save a picture of the main window (after --quit-after seconds, or 2 s)
  --quit-after SECONDS  quit after SECONDS (0: as soon as the window is shown)
  --no-settings         neither restore nor save the window layout

Each COMMAND has its own --help, e.g. `withscope run --help`."""


class UsageError(Exception):
    """Bad usage: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only` (a command name), just that command's sub-parser."""
    p = _Parser(prog="withscope", description="Make Python resource management visible.", epilog=APP_USAGE,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=VERSION)
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for cmd in _COMMANDS.values():
        if only is not None and cmd.name != only:
            continue
        text = cmd.help_text()
        sp = sub.add_parser(cmd.name, help=text, description=text)
        cmd.setup(sp)
        sp.set_defaults(handler=cmd.handler)
    return p


def fail(message: str) -> int:
    """Print a one-line error on stderr (control characters escaped); return exit code 2."""
    print(f"withscope: {printable(redact_text(message))}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list[0] if args_list and args_list[0] in _COMMANDS else None)
    try:
        args = parser.parse_args(args_list)
    except UsageError as exc:
        print(printable(redact_text(str(exc).splitlines()[0])), file=sys.stderr)  # argparse quotes bad values
        return 2
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except UsageError as exc:
        return fail(str(exc))
    except TargetError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("withscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `withscope list | head`: the reader left; say nothing more
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141


# ------------------------------------------------------------------------------ list
def _setup_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the catalogue as JSON")


def _workload_dict(w: Workload) -> dict[str, Any]:
    return {
        "name": w.name,
        "pattern": w.pattern,
        "pattern_title": w.pattern_title,
        "variant": w.variant,
        "title": w.title,
        "expected_rules": sorted(w.expected_rules),
        "postgres_rules": sorted(w.postgres_rules),
        "blocking": w.blocking,
        "uses_db": w.uses_db,
        "narration": w.narration,
    }


def cmd_list(args: argparse.Namespace) -> int:
    entries = catalogue()
    if args.json:
        print(json.dumps([_workload_dict(w) for w in entries], indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print("The catalogue is empty.")
        return 0
    width = max(len(w.name) for w in entries)
    pattern = None
    for w in entries:
        if w.pattern != pattern:
            pattern = w.pattern
            print(f"\n{w.pattern_title}")
        rules = ", ".join(sorted(w.expected_rules)) or "-"
        if w.postgres_rules:
            rules += f" (+ {', '.join(sorted(w.postgres_rules))} on PostgreSQL)"
        print(f"  {w.name:<{width}}  {w.title}")
        print(f"  {'':<{width}}  expects: {rules}")
    print("\nRun one with `withscope run NAME`; check them all with `withscope check`.")
    return 0


# ------------------------------------------------------------------------------- run
def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return x


def _setup_run(p: argparse.ArgumentParser) -> None:
    from .supervise.cli_run import add_target_arguments

    add_target_arguments(p)  # TARGET [ARGS...], -m MODULE [ARGS...], --python
    p.add_argument("--repeat", type=_positive_int, default=1, metavar="N", help="run it N times (default 1)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S", help="give up after S seconds")
    p.add_argument("--db", default=None, metavar="DSN", help=f"PostgreSQL DSN (default ${DB_ENV}, else SQLite)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the JSON report to FILE ('-': stdout)")
    p.add_argument("--record", default=None, metavar="FILE",
                   help="record the run to FILE (SQLite, written while it runs; open it with the app or `export`)")
    p.add_argument("--fail-on-leak", action="store_true",
                   help="exit 1 when any alert was raised, or the run did not end ok")
    p.add_argument("--scale", type=_positive_float, default=1.0, metavar="F", help="workload size factor")
    p.add_argument("--late-release", type=_positive_float, default=2.0, metavar="S", help="late-release threshold")
    p.add_argument("--quiet", action="store_true", help="no progress and no summary")


class Progress:
    """A progress indicator on stderr: a redrawn line on a TTY, else a line at the start and then
    every `every_s` seconds."""

    FRAMES = "|/-\\"

    def __init__(self, stream: TextIO, tty: bool, every_s: float = 5.0) -> None:
        self.stream = stream
        self.tty = tty
        self.every_s = every_s
        self._last = float("-inf")  # the first update prints at once
        self._i = 0

    def update(self, run: Run) -> None:
        t = time.perf_counter_ns()
        elapsed = (t - run.t0_ns) / 1e9
        lifetimes = run.recorder.table.count
        i, n = run.progress
        alerts = len(run.engine.alerts)
        text = f"{printable(run.target.name)}: repeat {i}/{n}, {elapsed:.1f} s, {lifetimes} lifetimes, {alerts} alerts"
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


async def _run_with_progress(run: Run, progress: Progress | None) -> RunSnapshot:
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


def cmd_run(args: argparse.Namespace) -> int:
    from .exporters import json_report
    from .outputs import OutputError
    from .report import write_report
    from .store import RecordingError, record_run
    from .supervise import ChildRun
    from .supervise.cli_run import progress_once_loaded, run_in_child, target_from_args

    target = target_from_args(args, _setup_run)
    if args.db is not None and not DatabaseConfig(args.db).is_postgres:
        raise UsageError(f"--db wants a postgresql:// DSN, got {redact_dsn(args.db)!r}")
    options = RunOptions(
        repeat=args.repeat,
        timeout_s=args.timeout,
        db=args.db,
        scale=args.scale,
        late_release_s=args.late_release,
    )
    tty = sys.stderr.isatty()  # a redrawn line would garble a program's own output on the terminal
    progress = None if args.quiet or (tty and target.kind in ("script", "module")) else Progress(sys.stderr, tty)
    json_out = _check_json_output(args.json, args.record)  # before anything runs or is created
    run = ChildRun(target, options, python=args.python)
    writer: RecordingWriter | None = None
    if args.record is not None:
        try:
            writer = record_run(run, args.record)  # before start: the file holds the run from t0
        except RecordingError as exc:
            raise UsageError(f"--record: {exc}") from None
    keep_stdout = _stdout_to_stderr() if args.json == "-" else contextlib.nullcontext()
    try:  # SIGINT/SIGTERM/SIGHUP stop the child; the run is then finished, recorded and reported
        shown = progress_once_loaded(run, progress)
        with keep_stdout:  # `--json -`: stdout carries the report alone; the program's prints go to stderr
            snap, stopped_by = run_in_child(run, lambda: _run_with_progress(run, shown))
        if run.target_error is not None and stopped_by is None:  # nothing ran: bad usage, as before
            _finish_recording(writer, snap)
            return fail(redact_text(run.target_error))
    finally:
        if writer is not None and not run.done:
            writer.close()  # no outcome to write: the file keeps status "running" and what it holds
    record_error = _finish_recording(writer, snap)
    json_error = None
    if args.json == "-":
        write_report(snap, "-")
    elif json_out is not None:
        try:
            json_report.write_file(snap, json_out)
        except (OutputError, OSError) as exc:  # checked before the run; changed since, or the disk is full
            json_error = f"--json: {exc}" if isinstance(exc, OutputError) else f"--json: {json_out}: {exc}"
    if not args.quiet:
        out = sys.stdout if args.json != "-" else sys.stderr
        print(redact_text(format_summary(snap)), file=out)
        if writer is not None and record_error is None:
            print(f"\nRecorded to {printable(writer.path)} (open it with `withscope`, or `withscope export`)", file=out)
    for error in (record_error, json_error):
        if error is not None:
            print(f"withscope: {printable(redact_text(error))}", file=sys.stderr)
    if stopped_by is not None:
        print("withscope: interrupted", file=sys.stderr)
        return 128 + stopped_by
    if record_error is not None or json_error is not None:
        return 2
    if args.fail_on_leak and (snap.alerts or snap.status != "ok"):
        if snap.status != "ok" and not snap.alerts:
            # a run that did not finish is no proof of "no leak": fail the gate, and say why
            print(f"withscope: --fail-on-leak: the run ended with status {snap.status!r}, so it proves nothing",
                  file=sys.stderr)
        return 1
    return 0


def _check_json_output(json_arg: str | None, record_arg: str | None) -> Path | None:
    """The file `--json` will write (None: no file), checked before the run starts: a directory,
    a device, a FIFO, a foreign file, an unwritable directory or the `--record` file is refused
    with `UsageError`."""
    from .exporters import json_report
    from .outputs import OutputError

    if json_arg is None or json_arg == "-":
        return None
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
def _stdout_to_stderr() -> Iterator[None]:
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


def _finish_recording(writer: RecordingWriter | None, snap: RunSnapshot) -> str | None:
    """Write the run's outcome and close the recording; the error text if that failed."""
    from .store import RecordingError

    if writer is None:
        return None
    try:
        writer.finish_with(snap)
    except RecordingError as exc:
        return str(exc)
    return None


def _fmt_bytes(n: float) -> str:
    return units.fmt_bytes(n)  # one convention (decimal) in every view


def _table(rows: list[list[str]], right: frozenset[int] | set[int] = frozenset()) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _p(value: object) -> str:
    """A value from the observed program as one line a terminal shows as is (no secret, every
    control character, bidirectional control and lone surrogate escaped)."""
    return printable(redact_text(str(value)))


def format_summary(snap: RunSnapshot) -> str:
    """A readable summary: status, lifetimes by kind and outcome, alerts with sites and hints, streams.

    Every value that comes from the observed program is escaped (`_p`): a label holding
    ``"\\x1b[2J"`` shows as that text, never clears the screen."""
    meta = snap.meta
    repeat = _p(meta.get("repeat", "1"))
    lines = [
        f"withscope run {_p(snap.target)}: {_p(snap.status)} in {snap.duration_s:.2f} s "
        f"({repeat} repeat{'s' if repeat != '1' else ''}, db {_p(meta.get('db', 'sqlite'))})"
    ]
    if snap.error:
        lines.append(f"  error: {_p(snap.error)}")
    if meta.get("cleanup_error"):
        lines.append(f"  cleanup: {_p(meta['cleanup_error'])}")
    if snap.dropped_events:
        lines.append(f"  warning: {snap.dropped_events} events were dropped (recorder buffer full)")
    lines.append("")
    lines.append(f"Lifetimes ({len(snap.lifetimes)}), as the workload left them")
    if snap.lifetimes:
        end = snap.workload_end_ns
        columns = ["released", "released-with-error", "exit-raised", "gc", "open"]
        by_kind: dict[str, Counter[str]] = {}
        closed_by_cleanup = 0
        for lt in snap.lifetimes:
            state = lt.outcome.value
            if snap.released_by_cleanup(lt, end):
                state = "open"  # released only by the run's cleanup (or the GC it ran)
                closed_by_cleanup += 1
            by_kind.setdefault(lt.kind, Counter())[state] += 1
        rows = [["kind", "total", *columns]]
        for kind, counts in by_kind.items():
            rows.append([_p(kind), str(sum(counts.values())), *[str(counts.get(c, 0) or "-") for c in columns]])
        lines += _table(rows, right=set(range(1, len(columns) + 2)))
        if closed_by_cleanup:
            lines.append(f"  ({closed_by_cleanup} left open were released by the run's cleanup afterwards)")
    else:
        lines.append("  none tracked (use track() from withscope.core in the code you run)")
    lines.append("")
    if snap.alerts:
        lines.append(f"Alerts ({len(snap.alerts)})")
        # Alerts of one rule at one site (the same line leaking on every request) are one entry:
        # the first message stands for the others.
        groups: dict[tuple[str, str, str | None, str], list[Alert]] = {}
        for a in snap.alerts:
            groups.setdefault((a.severity.value, a.rule, a.site, a.hint), []).append(a)
        for (_sev, _rule, _site, _hint), same in groups.items():
            a = same[0]
            where = f"  at {_p(a.site)}" if a.site else ""
            times = f"  (x{len(same)})" if len(same) > 1 else ""
            lines.append(f"  {a.severity.value.upper():<8} {_p(a.rule)}{where}{times}")
            lines.append(f"    {_p(a.message)}")
            if len(same) > 1:
                lines.append(f"    ... and {len(same) - 1} more like it (all of them are in --json)")
            lines.append(f"    hint: {_p(a.hint)}")
    elif snap.status == "ok":
        lines.append("No alerts: every tracked resource was released properly.")
    else:
        lines.append(f"No alerts in what ran before the run ended ({_p(snap.status)}).")
    if snap.streams:
        lines.append("")
        lines.append(f"Streams ({len(snap.streams)})")
        rows = [["label", "ttfb", "duration", "chunks", "bytes", "throughput"]]
        for st in snap.streams:
            ttfb = "-" if st.ttfb_ns is None else f"{st.ttfb_ns / 1e6:.1f} ms"
            rows.append(
                [
                    _p(st.label),
                    ttfb,
                    f"{st.duration_ns / 1e6:.1f} ms",
                    f"{st.chunks:,}",
                    _fmt_bytes(st.bytes),
                    f"{_fmt_bytes(st.throughput_bps)}/s",
                ]
            )
        lines += _table(rows, right={1, 2, 3, 4, 5})
    return "\n".join(lines)


# ----------------------------------------------------------------------------- check
@dataclass(slots=True)
class CheckRow:
    """One catalogue entry checked: what it declares, what it triggered."""

    name: str
    expected: frozenset[str]
    actual: frozenset[str]
    status: str
    error: str | None = None
    repeat: int = 1
    duration_s: float = 0.0
    messages: list[str] = field(default_factory=list)
    attempts: int = 1  # 2: the first run differed only in timing rules and was run again

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.name,
            "expected": sorted(self.expected),
            "actual": sorted(self.actual),
            "result": "OK" if self.ok else "MISMATCH",
            "status": self.status,
            "error": self.error,
            "repeat": self.repeat,
            "duration_s": round(self.duration_s, 3),
            "attempts": self.attempts,
        }


def repeats_for(w: Workload, entries: list[Workload], default: int) -> int:
    """Growth rules need 3 repeats: every variant of a pattern that expects one runs 3 times."""
    siblings = [x for x in entries if x.pattern == w.pattern]
    if any((x.expected_rules | x.postgres_rules) & GROWTH_RULES for x in siblings):
        return max(default, 3)
    return default


async def check_catalogue(
    dsn: str | None = None,
    *,
    scale: float = 0.2,
    repeat: int = 1,
    names: list[str] | None = None,
    on_row: Callable[[CheckRow], None] | None = None,
    timeout_s: float = 60.0,
) -> list[CheckRow]:
    """Run catalogue entries one after the other (OS-level rules are process-wide, so runs in
    parallel would blur each other) and compare the rules each triggered with its declaration."""
    entries = catalogue()
    if names is not None:
        entries = [w for w in entries if w.name in names]
    db = DatabaseConfig(dsn=dsn)
    sampler = Sampler()
    sampler.start()
    rows: list[CheckRow] = []
    try:
        for w in entries:
            n = repeats_for(w, entries, repeat)
            options = RunOptions(repeat=n, scale=scale, db=dsn, timeout_s=timeout_s)
            expected = w.expected_for(db)
            attempts = 0
            while True:
                attempts += 1
                snap = await Run(w.name, options, sampler=sampler).start().wait()
                actual = frozenset(a.rule for a in snap.alerts)
                if attempts == 2 or actual == expected or not (actual ^ expected) <= TIMING_RULES:
                    break
            row = CheckRow(
                name=w.name,
                expected=expected,
                actual=actual,
                status=snap.status,
                error=redact_optional(snap.error),
                repeat=n,
                duration_s=snap.duration_s,
                messages=[redact_text(f"{a.rule}: {a.message}") for a in snap.alerts],
                attempts=attempts,
            )
            rows.append(row)
            if on_row is not None:
                on_row(row)
    finally:
        await sampler.stop()
    return rows


def _setup_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, metavar="DSN", help=f"PostgreSQL DSN (default ${DB_ENV}, else SQLite)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--scale", type=_positive_float, default=0.2, metavar="F", help="workload size (default 0.2)")
    p.add_argument("--repeat", type=_positive_int, default=1, metavar="N", help="repeats per entry (default 1)")
    p.add_argument("--verbose", action="store_true", help="print every alert message")


async def _server_answers(dsn: str) -> str | None:
    """None when PostgreSQL answers at `dsn`, else why not (one line)."""
    try:
        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return None


def cmd_check(args: argparse.Namespace) -> int:
    dsn = args.db if args.db is not None else (os.environ.get(DB_ENV) or None)
    register_dsn(dsn)  # the driver's errors below may echo it in any shape
    if dsn is not None:
        if not DatabaseConfig(dsn).is_postgres:
            raise UsageError(f"--db wants a postgresql:// DSN, got {redact_dsn(dsn)!r}")
        why = asyncio.run(_server_answers(dsn))
        if why is not None:
            raise UsageError(f"PostgreSQL does not answer at {redact_dsn(dsn)}: {why}")
    if not catalogue():
        raise UsageError("the catalogue is empty: nothing to check")

    def fmt(rules: frozenset[str]) -> str:
        return ", ".join(sorted(rules)) or "-"

    names = [w.name for w in catalogue()]
    width = max(len(n) for n in names)
    exp_w = max(24, *(len(fmt(w.expected_for(DatabaseConfig(dsn)))) for w in catalogue()))

    def show(row: CheckRow) -> None:
        if args.json:
            return
        result = "OK" if row.ok else "MISMATCH"
        extra = f"  [{row.status}: {row.error}]" if row.status == "error" and row.error else ""
        if row.attempts > 1:
            extra += "  (second run: the first one's timings were off)"
        extra = _p(extra)
        print(f"{row.name:<{width}}  {fmt(row.expected):<{exp_w}}  {fmt(row.actual):<{exp_w}}  {result}{extra}")
        if args.verbose or not row.ok:
            for m in row.messages:
                print(f"{'':<{width}}    {_p(m)}")
        sys.stdout.flush()

    if not args.json:
        where = redact_dsn(dsn) if dsn else "sqlite"
        print(f"withscope check: {len(names)} workloads, db {where}, scale {args.scale:g}")
        print(f"{'workload':<{width}}  {'expected rules':<{exp_w}}  {'actual rules':<{exp_w}}  result")
    rows = asyncio.run(check_catalogue(dsn, scale=args.scale, repeat=args.repeat, on_row=show))
    bad = [r for r in rows if not r.ok]
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(f"\n{len(rows) - len(bad)}/{len(rows)} OK" + (f", {len(bad)} MISMATCH" if bad else ""))
    return 1 if bad else 0


# ---------------------------------------------------------------------------- export
IMAGE_PLOTS = ("timeline", "metrics", "throughput")


def _setup_export(p: argparse.ArgumentParser) -> None:
    from .exporters import command as export_command

    export_command.setup(p)
    p.add_argument("--plot", choices=IMAGE_PLOTS, default=None,
                   help="png/svg only: which of the app's plots (default timeline)")
    p.add_argument("--width", type=_positive_int, default=None, metavar="PX",
                   help="png/svg only: image width in pixels (default 1600)")


def cmd_export(args: argparse.Namespace) -> int:
    """Headless formats through `exporters.command`; png/svg with the options of the image writers
    the GUI layer registers (without it: exit 2, saying why)."""
    from .exporters import GUI_FORMATS, ExportError, export
    from .exporters import command as export_command
    from .outputs import OutputError
    from .store import RecordingError, open_recording

    if args.format not in GUI_FORMATS:
        if args.plot is not None or args.width is not None:
            raise UsageError("--plot and --width apply to --format png or svg only")
        return export_command.handler(args)
    if args.what is not None:
        raise UsageError("--what applies to --format csv only")
    options = {k: v for k, v in (("plot", args.plot), ("width", args.width)) if v is not None}
    try:
        export_command.check_outputs(args.format, Path(args.output), args.recording)
        written = export(open_recording(args.recording), args.format, Path(args.output), **options)
    except (RecordingError, ExportError, OutputError) as exc:
        return fail(str(exc))
    for path in written:
        print(printable(path))
    return 0


# ------------------------------------------------------------------------------ demo
def _setup_demo(p: argparse.ArgumentParser) -> None:
    from . import tours

    tours.setup_demo(p)
    p.add_argument("--presenter", action="store_true", help="presenter mode: larger fonts for a projector")
    p.add_argument("--autoplay", action="store_true", help="advance through the steps on their own")
    p.add_argument("--screenshot", metavar="FILE.png", help="save a picture of the app in tour mode (after "
                   "--quit-after seconds, or 2 s)")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="quit after SECONDS")
    p.add_argument("--no-settings", action="store_true", help="neither restore nor save the window layout")


def cmd_demo(args: argparse.Namespace) -> int:
    from . import tours

    if args.check:
        return tours.demo_check(args.tour)
    raise UsageError("`withscope demo` opens the app: run it as the `withscope` command (or add --check)")


register("list", "list the workload catalogue", _setup_list, cmd_list)
register("run", "run a workload or your own function and report its resources", _setup_run, cmd_run)
register("check", "run every catalogue entry and compare the rules it triggers with its declaration",
         _setup_check, cmd_check)
def _export_help() -> str:
    from .exporters import command as export_command

    return export_command.HELP


def _demo_help() -> str:
    from . import tours

    return tours.DEMO_HELP


register("export", _export_help, _setup_export, cmd_export)
register("demo", _demo_help, _setup_demo, cmd_demo)

__all__ = [
    "RULE_NAMES",
    "CheckRow",
    "Progress",
    "UsageError",
    "build_parser",
    "check_catalogue",
    "format_summary",
    "gui_command",
    "is_headless",
    "main",
    "register",
]
