"""The console's model: the lines the runs' programs wrote (stdout and stderr, already split and
elided by `core.supervise.output`), tagged with their run, waiting to be shown. Bounded: at most
`HISTORY` lines wait; older ones are counted as dropped. Qt-free; loop/GUI thread only."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

HISTORY = 5_000  # lines kept in the view, and lines waiting to be shown


@dataclass(frozen=True, slots=True)
class ConsoleLine:
    run: int  # the run's bridge key
    name: str  # the run's tag
    stream: str  # "stdout" | "stderr"
    text: str


class ConsoleBuffer:
    """Lines waiting to be shown, bounded (see the module docstring). Loop/GUI thread only."""

    def __init__(self, limit: int = HISTORY) -> None:
        self._pending: deque[ConsoleLine] = deque(maxlen=limit)
        self.total = 0  # lines ever added
        self.dropped = 0  # lines that were pushed out before being shown

    def add(self, run: int, name: str, stream: str, text: str) -> None:
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(ConsoleLine(run, name, stream, text))
        self.total += 1

    def take(self) -> list[ConsoleLine]:
        """The lines added since the last call, oldest first."""
        out = list(self._pending)
        self._pending.clear()
        return out
