"""`withscope run` in a child process: the target forms, the program's arguments, the signals.

    withscope run [OPTIONS] script.py [ARGS...]      ARGS go to the script (sys.argv[1:])
    withscope run [OPTIONS] -m package.module [ARGS...]
    withscope run [OPTIONS] file.py:function | package.module:function | CATALOGUE-NAME [OPTIONS]

Everything after a script or `-m MODULE` belongs to the program (`--` is dropped once, as
argparse does); a function or catalogue target takes no arguments, so options written after it
are withscope's (as they always were). `--python PATH` picks the interpreter (default: the active
virtual environment's, else withscope's own).

`run_in_child` runs a `ChildRun` on a fresh asyncio loop with SIGINT, SIGTERM and SIGHUP handled:
the child is stopped (its status `stopped`), cleanup and the final rules run, and the signal is
returned so the caller can write its report and exit 128 + signal (130, 143, 129).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from ..targets import TargetError  # noqa: TID252 (mypy sees this tree as `core`)
from .target import ChildTarget, child_target

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """TARGET, -m MODULE, --python and the program's ARGS (call before the other options)."""
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="script.py, FILE.py:FUNCTION, MODULE:FUNCTION or a catalogue name")
    p.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE [ARGS]",
                   help="run a module as `python -m MODULE ARGS` (the rest of the line is its arguments)")
    p.add_argument("--python", default=None, metavar="PATH",
                   help="the interpreter that runs the target (default: the active venv's python, else withscope's)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                   help="arguments for the script or module (everything after TARGET)")  # fmt: skip


def target_from_args(args: argparse.Namespace, setup: Callable[[argparse.ArgumentParser], None]) -> ChildTarget:
    """The `ChildTarget` the parsed `args` name; options written after a function or catalogue
    target are parsed again with `setup` (the run command's own) into `args`. Raises `TargetError`
    (and argparse's errors, through the parser `setup` is given)."""
    if args.module:
        if args.target is not None:  # pragma: no cover - argparse gives -m the rest of the line
            raise TargetError("give either TARGET or -m MODULE")
        name, *rest = args.module
        return child_target(name, rest, module=True)
    if args.module is not None:
        raise TargetError("-m needs a MODULE")
    if args.target is None:
        raise TargetError("give a TARGET: script.py, -m MODULE, FILE.py:FUNCTION, MODULE:FUNCTION or a catalogue name")
    extra = list(args.args or ())
    target = child_target(args.target, extra)
    if target.kind in ("function", "catalogue") and extra:
        parser = argparse.ArgumentParser(prog="withscope run", add_help=False)
        parser.error = _raise_usage  # type: ignore[method-assign]
        setup(parser)
        again = parser.parse_args([*extra, args.target])
        if again.args or again.target != args.target:
            raise TargetError(
                f"{args.target} takes no arguments (only scripts and -m modules do); got: {' '.join(extra)}"
            )
        for key, value in vars(again).items():
            if key not in ("target", "args", "module") and value != parser.get_default(key):
                setattr(args, key, value)
        target = child_target(args.target, ())
    return target


def progress_once_loaded(run: Any, progress: Any) -> Any:
    """`progress` (or None), showing nothing until the child has loaded the target: a target that
    cannot be loaded ends as one line of error, alone, as before."""
    if progress is None:
        return None
    update = progress.update

    def gated(r: Any) -> None:
        if run.target_loaded or run.done:
            update(r)

    progress.update = gated
    return progress


def _raise_usage(message: str) -> Any:
    raise TargetError(f"withscope run: {message}")


def run_in_child(run: Any, waiter: Callable[[], Awaitable[Any]]) -> tuple[Any, int | None]:
    """Run `waiter()` (which starts `run` and awaits its snapshot) under `asyncio.run` with the
    signals of `HANDLED_SIGNALS` stopping the run; returns (snapshot, the signal that stopped it)."""
    got: list[int] = []

    async def main() -> Any:
        loop = asyncio.get_running_loop()

        def on_signal(sig: int) -> None:
            if not got:
                got.append(sig)
            run.cancel()

        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await waiter()
        finally:
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)

    snap = asyncio.run(main())
    return snap, (got[0] if got else None)
