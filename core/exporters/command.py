"""`withscope export RECORDING --format FMT -o OUT`: the export subcommand, ready to register.

    from withscope.core.exporters import command
    cli.register("export", command.HELP, command.setup, command.handler)

Exit codes as the rest of the CLI: 0 written (the files are listed on stdout), 2 bad usage, an
unreadable recording or an export that cannot be made (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..store import RecordingError, open_recording  # noqa: TID252 (mypy sees this tree as `core`)
from . import GUI_FORMATS, ExportError, available_formats, export
from .csv import TABLES

HELP = "export a recording: chrome trace, CSV, JSON report, HTML report (png/svg from the app)"


def setup(p: argparse.ArgumentParser) -> None:
    p.add_argument("recording", metavar="RECORDING", help="a recording file (withscope run ... --record FILE)")
    p.add_argument(
        "-f", "--format", required=True, metavar="FMT",
        help=f"one of {', '.join(dict.fromkeys([*available_formats(), *GUI_FORMATS]))}",
    )  # fmt: skip
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (csv: a name or a directory)")
    p.add_argument("--what", choices=TABLES, default=None, help="csv only: write just this table to OUT")


def handler(args: argparse.Namespace) -> int:
    if args.what is not None and args.format != "csv":
        print("withscope: --what applies to --format csv only", file=sys.stderr)
        return 2
    try:
        snapshot = open_recording(args.recording)
        options = {"what": args.what} if args.what is not None else {}
        written = export(snapshot, args.format, Path(args.output), **options)
    except (RecordingError, ExportError) as exc:
        print(f"withscope: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
