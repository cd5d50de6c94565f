"""How a run stands or ended, as typed values: the one definition the runners, the recordings,
the reports, the CLI and the app read.

A run is `pending`, then `running`, then ends `ok`, `error` (the exception's one line in the run's
`error`), `cancelled` (an in-process run stopped), `stopped` (a child run stopped), `timed out`,
`exited N` (the program's own exit status) or `crashed: SIGNAME` (killed by a signal). Statuses are
stored and reported as these texts (`RunStatus` members are `str`), so recordings stay readable.
"""

from __future__ import annotations

import enum
import signal
from typing import Any


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    TIMED_OUT = "timed out"


_EXITED, _CRASHED = "exited ", "crashed: "


def exited(code: int) -> str:
    return f"{_EXITED}{code}"


def crashed(signal_name: str) -> str:
    return f"{_CRASHED}{signal_name}"


def ended_on_its_own_terms(status: str) -> bool:
    """True when the program itself ended the run abnormally (killed by a signal, a non-zero exit
    status) or ran out of its time limit: not a failure of withscope or of the workload's code."""
    return status == RunStatus.TIMED_OUT or status.startswith((_EXITED, _CRASHED))


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
    if stop_reason == RunStatus.TIMED_OUT:
        why = f"timed out after {timeout_s:g} s" if timeout_s is not None else "timed out"
        if end is not None and threads:
            why += f"; the main code had returned, non-daemon threads kept the process alive: {', '.join(threads)}"
        return RunStatus.TIMED_OUT, why
    if stop_reason == RunStatus.STOPPED:
        return RunStatus.STOPPED, None
    if end is not None:
        kind, detail = end[1], end[2]
        if kind in ("error", "target"):
            return RunStatus.ERROR, str(detail)
        if kind == "exit" and detail != 0:
            return exited(detail), None
    if returncode is None:
        return RunStatus.ERROR, "the process could not be waited for"
    if returncode < 0:
        name = signal_name(-returncode)
        return crashed(name), f"the process was killed by {name}"
    if returncode == 0:
        return RunStatus.OK, None
    return exited(returncode), None
