"""`withscope demo --check [NAME|FILE]`: validate the guided tours headless. `withscope demo`
without --check opens the app in tour mode: the launcher sends it to the GUI layer, which parses
it with these same options."""

from __future__ import annotations

import argparse

from withscope.core import tours
from withscope.core.cli import UsageError


def setup(p: argparse.ArgumentParser) -> None:
    tours.setup_demo(p)
    p.add_argument("--presenter", action="store_true", help="presenter mode: larger fonts for a projector")
    p.add_argument("--autoplay", action="store_true", help="advance through the steps on their own")
    p.add_argument("--screenshot", metavar="FILE.png", help="save a picture of the app in tour mode (after "
                   "--quit-after seconds, or 2 s)")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="quit after SECONDS")
    p.add_argument("--no-settings", action="store_true", help="neither restore nor save the window layout")


def handler(args: argparse.Namespace) -> int:
    if args.check:
        return tours.demo_check(args.tour)
    raise UsageError("`withscope demo` opens the app: run it as the `withscope` command (or add --check)")
