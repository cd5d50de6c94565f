"""The `withscope` console command: headless subcommands go to `withscope.core.cli` without
importing Qt; anything else opens the desktop app."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from withscope.core import cli

    if cli.is_headless(args):
        return cli.main(args)
    print("withscope: the desktop app is not built yet; try `withscope list` or `withscope run NAME`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
