"""The headless command line: the parser, the dispatch, one module per command.

    withscope list [--json]                                          listing.py
    withscope run TARGET [ARGS...] [--repeat N] [--timeout S] ...    run.py
    withscope check [--db DSN] [--json] [--scale F] [--repeat N]     check.py
    withscope export RECORDING --format FMT -o OUT [--what T]        export.py
    withscope demo --check [NAME|FILE]                               demo.py

Importing this package costs argparse and nothing else: a command's module (and whatever it
needs: asyncio, the runner, the store, the exporters, the tours) is imported when that command
is parsed or run, so `withscope run` never pays for `export` or `demo`. Never imports Qt; the
commands run under plain asyncio (`asyncio.run`).

`export` to png/svg and `demo` without `--check` need the app: the `withscope` launcher
(`gui/shell/launcher.py`) sends them to the GUI layer (`gui_command` says which); here they fail with
exit 2 and say so. The app's own options (`withscope` without a COMMAND) are the launcher's: it
passes their usage text to `main` for `withscope --help`.

Exit codes: 0 ran (alerts or not; a target that raised is reported with status error), 1
with --fail-on-leak alerts found or a run that did not end `ok` (or a catalogue mismatch for
`check`), 2 bad usage or unknown target (one line on stderr naming the problem and what
exists, no traceback), 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP, 141 the reader of stdout left.

Other subcommands plug in with `register(name, help, setup, handler)` (`setup(parser)` adds
arguments, `handler(args) -> int`) before `main` runs; `is_headless` decides what the
launcher sends here instead of opening the app.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any, NoReturn

VERSION = "withscope 0.1.0"
# Options of `withscope` itself (besides the commands, whose names never start with "-").
TOP_OPTIONS = frozenset({"-h", "--help", "--version"})

Setup = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


class Command:
    """A subcommand: its name, help (a callable is asked when the help is shown, so the imports
    it needs stay lazy), `setup(parser)` and `handler(args) -> exit code`."""

    __slots__ = ("handler", "help", "name", "setup")

    def __init__(self, name: str, help: str | Callable[[], str], setup: Setup, handler: Handler) -> None:
        self.name, self.help, self.setup, self.handler = name, help, setup, handler

    def help_text(self) -> str:
        return self.help if isinstance(self.help, str) else self.help()


_COMMANDS: dict[str, Command] = {}


def register(name: str, help: str | Callable[[], str], setup: Setup, handler: Handler) -> None:
    """Add (or replace) a subcommand."""
    _COMMANDS[name] = Command(name, help, setup, handler)


def _lazy(module: str, attr: str) -> Callable[..., Any]:
    """`attr` of `withscope.core.cli.<module>`, imported on the first call."""

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)(*args)

    call.__name__ = call.__qualname__ = f"{module}.{attr}"
    return call


def is_headless(args: list[str]) -> bool:
    """True when `args` name a subcommand (or option of `withscope` itself) that runs without a display."""
    if not args:
        return False
    if args[0] == "demo":
        return bool({"--check", "-h", "--help"} & set(args))
    return args[0] in TOP_OPTIONS or args[0] in _COMMANDS


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
        from withscope.core.exporters import GUI_FORMATS

        sniff = argparse.ArgumentParser(add_help=False)
        sniff.add_argument("-f", "--format")
        known, _ = sniff.parse_known_args(args[1:])
        return "export" if known.format in GUI_FORMATS else None
    return None


class UsageError(Exception):
    """Bad usage: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


APP_HINT = "Without a COMMAND, `withscope` opens the desktop app. Each COMMAND has its own --help."


def build_parser(only: str | None = None, *, app_usage: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only` (a command name), just that command's sub-parser.
    `app_usage` (the launcher's text for the app's options) ends the top-level help."""
    p = _Parser(prog="withscope", description="Make Python resource management visible.",
                epilog=app_usage or APP_HINT, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return x


def shown(value: object) -> str:
    """A value (perhaps from the observed program) as one line a terminal shows as is: no secret,
    every control character, bidirectional control and lone surrogate escaped."""
    from withscope.core.redact import redact_text
    from withscope.core.textsafe import printable

    return printable(redact_text(str(value)))


def fail(message: str) -> int:
    """Print a one-line error on stderr (control characters escaped); return exit code 2."""
    print(f"withscope: {shown(message)}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, *, app_usage: str | None = None) -> int:
    from withscope.core.targets import TargetError

    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list[0] if args_list and args_list[0] in _COMMANDS else None, app_usage=app_usage)
    try:
        args = parser.parse_args(args_list)
    except UsageError as exc:
        print(shown(str(exc).splitlines()[0]), file=sys.stderr)  # argparse quotes bad values
        return 2
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except (UsageError, TargetError) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("withscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `withscope list | head`: the reader left; say nothing more
        _stdout_to_devnull()
        return 141


def _stdout_to_devnull() -> None:
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _export_help() -> str:
    from withscope.core.exporters import command

    return command.HELP


def _demo_help() -> str:
    from withscope.core import tours

    return tours.DEMO_HELP


register("list", "list the workload catalogue", _lazy("listing", "setup"), _lazy("listing", "handler"))
register("run", "run a script, a module, your own function or a catalogue entry and report its resources",
         _lazy("run", "setup"), _lazy("run", "handler"))
register("check", "run every catalogue entry and compare the rules it triggers with its declaration",
         _lazy("check", "setup"), _lazy("check", "handler"))
register("export", _export_help, _lazy("export", "setup"), _lazy("export", "handler"))
register("demo", _demo_help, _lazy("demo", "setup"), _lazy("demo", "handler"))

__all__ = [
    "VERSION",
    "Command",
    "UsageError",
    "build_parser",
    "fail",
    "gui_command",
    "is_headless",
    "main",
    "positive_float",
    "positive_int",
    "register",
    "shown",
]
