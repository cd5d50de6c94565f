"""Naming how an observed process ended: `ok`, `exited 3`, `crashed: SIGSEGV`, `timed out`,
`stopped` or `error` (with the exception's one line in the run's `error`)."""

from __future__ import annotations

import signal
from typing import Any

#: Statuses a child run ends with besides "exited N" and "crashed: SIGNAME".
FINAL = ("ok", "error", "timed out", "stopped")


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def describe(
    returncode: int | None, end: tuple[Any, ...] | None, stop_reason: str | None, timeout_s: float | None = None
) -> tuple[str, str | None]:
    """(status, error) from the exit code, the agent's "end" message (None if it never came) and
    why the parent stopped the process ("timed out", "stopped" or None)."""
    threads: list[str] = list(end[3]) if end is not None and len(end) > 3 else []
    if stop_reason == "timed out":
        why = f"timed out after {timeout_s:g} s" if timeout_s is not None else "timed out"
        if end is not None and threads:
            why += f"; the main code had returned, non-daemon threads kept the process alive: {', '.join(threads)}"
        return "timed out", why
    if stop_reason == "stopped":
        return "stopped", None
    if end is not None:
        kind, detail = end[1], end[2]
        if kind in ("error", "target"):
            return "error", str(detail)
        if kind == "exit" and detail != 0:
            return f"exited {detail}", None
    if returncode is None:
        return "error", "the process could not be waited for"
    if returncode < 0:
        name = signal_name(-returncode)
        return f"crashed: {name}", f"the process was killed by {name}"
    if returncode == 0:
        return "ok", None
    return f"exited {returncode}", None
