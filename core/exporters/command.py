"""`withscope export RECORDING --format FMT -o OUT`: the export subcommand, ready to register.

    from withscope.core.exporters import command
    cli.register("export", command.HELP, command.setup, command.handler)

Exit codes as the rest of the CLI: 0 written (the files are listed on stdout), 2 bad usage, an
unreadable recording or an export that cannot be made (one line on stderr, no traceback). Every
output is checked before the recording is read (`check_outputs`; the rules are
`withscope.core.outputs`'): nothing but an absent, empty or earlier withscope export of that
format is replaced, and never the recording itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from withscope.core import outputs
from withscope.core.outputs import OutputError
from withscope.core.store import RecordingError, open_recording
from withscope.core.textsafe import printable

from . import GUI_FORMATS, ExportError, available_formats, chrome, csv, export, html, image_owner, json_report
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


def check_outputs(fmt: str, out: Path, recording: str, what: str | None = None) -> None:
    """Check every file the export will write, before the recording is even read: a directory
    (but for csv), a device, a FIFO, a foreign file, the recording itself (through any link) or
    an unwritable directory raises `OutputError` (a ValueError) with one line."""
    inputs = (recording,)
    if fmt == "csv":
        for path in csv.output_paths(out, what).values():
            outputs.check_output(path, csv.owns, csv.WHAT, inputs=inputs)
        return
    owns, what_is = _OWNERS.get(fmt, (image_owner(fmt), f"{fmt.upper()} image"))
    outputs.check_output(out, owns, what_is, inputs=inputs)


_OWNERS = {
    "chrome": (chrome.owns, chrome.WHAT),
    "json": (json_report.owns, json_report.WHAT),
    "html": (html.owns, html.WHAT),
}


def handler(args: argparse.Namespace) -> int:
    if args.what is not None and args.format != "csv":
        print("withscope: --what applies to --format csv only", file=sys.stderr)
        return 2
    try:
        check_outputs(args.format, Path(args.output), args.recording, args.what)
        snapshot = open_recording(args.recording)
        options = {"what": args.what} if args.what is not None else {}
        written = export(snapshot, args.format, Path(args.output), **options)
    except (RecordingError, ExportError, OutputError) as exc:
        print(f"withscope: {printable(exc)}", file=sys.stderr)
        return 2
    for path in written:
        print(printable(path))
    return 0
