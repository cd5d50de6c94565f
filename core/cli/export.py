"""`withscope export RECORDING --format FMT -o OUT`: the headless formats through
`exporters.command`; png/svg with the options of the image writers the GUI layer registers
(the launcher sends those to the GUI; without it: exit 2, saying why)."""

from __future__ import annotations

import argparse
from pathlib import Path

from withscope.core.cli import UsageError, fail, positive_int
from withscope.core.exporters import GUI_FORMATS, ExportError, export
from withscope.core.exporters import command as export_command
from withscope.core.outputs import OutputError
from withscope.core.store import RecordingError, open_recording
from withscope.core.textsafe import printable

IMAGE_PLOTS = ("timeline", "metrics", "throughput")


def setup(p: argparse.ArgumentParser) -> None:
    export_command.setup(p)
    p.add_argument("--plot", choices=IMAGE_PLOTS, default=None,
                   help="png/svg only: which of the app's plots (default timeline)")
    p.add_argument("--width", type=positive_int, default=None, metavar="PX",
                   help="png/svg only: image width in pixels (default 1600)")


def handler(args: argparse.Namespace) -> int:
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
