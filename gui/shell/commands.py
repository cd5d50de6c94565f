"""Subcommands that need Qt, dispatched by `gui/shell/launcher.py` (see `core.cli.gui_command`):

    withscope demo [NAME|FILE] [--presenter] [--autoplay]     # the app in tour mode
    withscope export RECORDING --format png|svg -o OUT [--plot timeline|metrics|throughput] [--width PX]

Both parse with the core parser (`core.cli.build_parser`), so usage and errors read the same as
the headless commands (one line, exit 2). `export` renders offscreen (`QT_QPA_PLATFORM=offscreen`,
no display needed): it registers the png/svg writers of `plot_export` with `core.exporters` and
runs the core `export` handler. Nothing heavy is imported before it is needed.
"""

from __future__ import annotations

import os
import sys


def main(command: str, args: list[str]) -> int:
    if command == "export":
        return export_images(args)
    if command == "demo":
        return demo(args)
    print(f"withscope: unknown GUI command {command!r}", file=sys.stderr)
    return 2


def export_images(args: list[str]) -> int:
    """`withscope export ... --format png|svg`: the app's plots rendered offscreen."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen plugin's chatter
    from withscope.core import cli
    from withscope.gui.recordings.plot_export import register_formats
    from withscope.gui.shell.app import create_application
    from withscope.gui.style import theme as th

    app = create_application()
    th.apply(th.Theme.named("light"), app)
    register_formats()
    return cli.main(args)


def demo(args: list[str]) -> int:
    """`withscope demo`: open the app and start the tour (errors in the tour show in its panel)."""
    from withscope.core import cli

    try:
        ns = cli.build_parser().parse_args(args)
    except cli.UsageError as exc:
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 2
    from withscope.gui.shell.launcher import _has_display

    if not _has_display():
        if ns.screenshot is None and ns.quit_after is None:
            print("withscope: no display found (DISPLAY/WAYLAND_DISPLAY unset): the tour needs the app. "
                  "`withscope demo --check` validates tours headless.", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a timed screenshot of the tour needs no display
    from withscope.core.tours import TourError, find_tour

    try:
        find_tour(ns.tour)
    except TourError as exc:  # say it here too; the app opens with the error in its tour panel
        print(f"withscope: {str(exc).splitlines()[0]}", file=sys.stderr)
    from withscope.gui.shell.app import Options, run
    from withscope.gui.tours.tour_player import DemoRequest, request_at_start

    request_at_start(DemoRequest(ns.tour, presenter=ns.presenter, autoplay=ns.autoplay))
    return run(Options(screenshot=ns.screenshot, quit_after=ns.quit_after, settings=not ns.no_settings))
