"""The `withscope` console command: headless subcommands go to `withscope.core.cli` without
importing Qt; anything else opens the desktop app.

    withscope                                   # open the app
    withscope run.withscope.db                  # open the app showing a recording
    withscope --run class-cm/faulty [--run ...] # open it and start workloads
    withscope --screenshot FILE.png --quit-after 3
    withscope --quit-after 0                    # start-up measurement: quit once the window shows

Opening the app imports neither `withscope.core.cli` nor anything heavy before the window is
shown (see app.py and startup.py): arguments that start with one of the app's options go straight
to the app's parser (`_app_only`). The headless commands import nothing of Qt: this package's
`__init__` is empty and the binding is pinned by `app.py`.

The app's options are defined once, in `build_parser`; `withscope --help` (the CLI's help) ends
with their usage (`app_usage`).
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="withscope",
        description="Without a COMMAND, withscope opens the desktop app.",
        epilog="Each COMMAND has its own --help, e.g. `withscope run --help`; `withscope --help` lists them.",
    )
    p.add_argument("recording", nargs="?", metavar="FILE.db",
                   help="a recording (withscope run --record, or the app's recordings) to open in the app")
    p.add_argument("--run", action="append", default=[], metavar="NAME",
                   help="start a workload (catalogue name or file.py:function) at launch; repeatable")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run each --run workload N times")
    p.add_argument("--screenshot", metavar="FILE.png", help="save a picture of the main window (after --quit-after "
                   "seconds, or 2 s)")
    p.add_argument("--quit-after", type=float, metavar="SECONDS",
                   help="quit after SECONDS (0: as soon as the window is shown)")
    p.add_argument("--db", metavar="DSN", help="PostgreSQL for the database workloads, e.g. "
                   "postgresql://user@127.0.0.1:5432/db (default: $WITHSCOPE_DB, else SQLite in a temp dir)")
    p.add_argument("--theme", choices=["light", "dark"], help="force a theme (default: follow the system)")
    p.add_argument("--no-settings", action="store_true", help="neither restore nor save the window layout")
    return p


def app_usage() -> str:
    """The app's part of `withscope --help`: this parser's own help."""
    return build_parser().format_help().rstrip()


# What `core.cli` handles itself besides its subcommands (whose names never start with "-").
_CLI_OPTIONS = frozenset({"-h", "--help", "--version"})


def _app_only(args: list[str]) -> bool:
    """True when `args` are the app's options, no subcommand: no arguments, or a first one that
    is an option other than -h/--help/--version. For these `core.cli` has nothing to do
    (`gui_command` is None and `is_headless` False; a test keeps them in step), so the launcher
    does not import it."""
    return not args or (args[0].startswith("-") and args[0] not in _CLI_OPTIONS)


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not _app_only(args):
        from withscope.core import cli

        command = cli.gui_command(args)
        if command is not None:  # `demo` (the app in tour mode) or `export` to png/svg (Qt offscreen)
            from withscope.gui.shell.commands import main as command_main

            return command_main(command, args)
        if cli.is_headless(args):
            return cli.main(args, app_usage=app_usage())
    ns = build_parser().parse_args(args)
    if ns.recording is not None and not os.path.isfile(ns.recording):
        # Neither a subcommand (core.cli took those) nor a file: most likely a mistyped command.
        print(f"withscope: {ns.recording!r} is neither a command nor a recording file "
              "(commands: withscope --help)", file=sys.stderr)
        return 2
    if ns.recording is not None and ns.run:
        print("withscope: open a recording or --run workloads, not both", file=sys.stderr)
        return 2
    if ns.repeat < 1:
        print("withscope: --repeat must be at least 1", file=sys.stderr)
        return 2
    if not _has_display():
        if ns.screenshot is None and ns.quit_after is None:
            print("withscope: no display found (DISPLAY/WAYLAND_DISPLAY unset). Use the headless commands "
                  "(`withscope list`, `withscope run NAME`) or set QT_QPA_PLATFORM=offscreen.", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # screenshots and timed runs work without a display
    if ns.db:
        os.environ["WITHSCOPE_DB"] = ns.db  # the runner's fallback: every run started in the app uses it
    from withscope.gui.shell.app import Options, run

    return run(Options(run=ns.run, recording=ns.recording, repeat=ns.repeat, screenshot=ns.screenshot,
                       quit_after=ns.quit_after,
                       theme=ns.theme, settings=not ns.no_settings))


if __name__ == "__main__":
    sys.exit(main())
