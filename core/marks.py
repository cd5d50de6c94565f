"""The marks a run writes on its time axis, as typed values: one definition for the runner, the
child agent, the rules, the recordings and the views.

A mark is stored as its text (`Mark.text`, the recordings' `marks.text`), so recordings stay
readable by a person; `parse(text)` gives back what it means. Standard library only (the agent in
an observed process imports it).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class MarkKind(enum.StrEnum):
    RUN_START = "run start"  # the target was loaded and began to run
    REPEAT_START = "repeat start"  # "repeat 2/5 start"
    REPEAT_END = "repeat end"  # "repeat 2/5 end": OS-level growth is judged between these
    WORKLOAD_END = "workload end"  # the workload returned, raised or was stopped; cleanup follows
    CLEANUP = "cleanup"  # the run's cleanup began
    STOP = "stop"  # "stop: SIGTERM": how the parent stopped a child run
    OTHER = "other"  # anything else (a user's own mark)


RUN_START = MarkKind.RUN_START.value
WORKLOAD_END = MarkKind.WORKLOAD_END.value
CLEANUP = MarkKind.CLEANUP.value
_REPEAT_RE = re.compile(r"^repeat (\d+)/(\d+) (start|end)$")


def repeat_start(i: int, n: int) -> str:
    return f"repeat {i}/{n} start"


def repeat_end(i: int, n: int) -> str:
    return f"repeat {i}/{n} end"


def stop(detail: str) -> str:
    return f"stop: {detail}"


@dataclass(frozen=True, slots=True)
class MarkInfo:
    kind: MarkKind
    repeat: int = 0  # for REPEAT_START / REPEAT_END: this repeat (1-based) ...
    of: int = 0  # ... of this many
    detail: str = ""  # for STOP: what the parent did


def parse(text: str) -> MarkInfo:
    """What a mark's text means (never raises)."""
    if text == RUN_START:
        return MarkInfo(MarkKind.RUN_START)
    if text == WORKLOAD_END:
        return MarkInfo(MarkKind.WORKLOAD_END)
    if text == CLEANUP:
        return MarkInfo(MarkKind.CLEANUP)
    m = _REPEAT_RE.match(text)
    if m is not None:
        kind = MarkKind.REPEAT_START if m.group(3) == "start" else MarkKind.REPEAT_END
        return MarkInfo(kind, int(m.group(1)), int(m.group(2)))
    if text.startswith("stop: "):
        return MarkInfo(MarkKind.STOP, detail=text[len("stop: "):])
    return MarkInfo(MarkKind.OTHER, detail=text)
