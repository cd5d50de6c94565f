"""The headless command line: `withscope list`, `withscope run`, ... (never imports Qt)."""

from __future__ import annotations

import argparse
import sys

HEADLESS = frozenset({"list", "run", "check", "export", "catalogue-check", "-h", "--help", "--version"})


def is_headless(args: list[str]) -> bool:
    """True when `args` name a subcommand that runs without a display."""
    if not args:
        return False
    if args[0] == "demo":
        return "--check" in args
    return args[0] in HEADLESS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="withscope", description="Make Python resource management visible.")
    p.add_argument("--version", action="version", version="withscope 0.1.0")
    p.add_subparsers(dest="command")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    parser.print_help()
    return 0
