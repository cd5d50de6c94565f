"""Immutable records of what the recorder saw, and the raw event codes of the hot path.

The hot path appends plain tuples (cheapest to build); the recorder folds them into a
columnar table and hands out these frozen records on demand. Everything here is
thread-agnostic data: safe to pass between threads and to pickle.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    """How a lifetime ended (or that it has not). The members' order is the order every legend
    lists them in.

    - `open`: still held when asked.
    - `released`: released with no exception passing through (a `with` exit, `close()`, a stream
      exhausted or closed).
    - `released-with-error`: a `with` exit that an exception passed through - whether or not
      `__exit__` suppressed it (see `Lifetime.suppressed`) - or a stream whose source raised.
      A cancelled or timed-out block is this, with `CancelledError`.
    - `exit-raised`: `__exit__`/`__aexit__`/`close()` raised an exception of its own (not the one
      passing through), including an exit interrupted by a second cancellation: the release may
      not have completed.
    - `gc`: the tracked handle (or stream) was garbage-collected while still open.
    """

    OPEN = "open"
    RELEASED = "released"
    RELEASED_WITH_ERROR = "released-with-error"
    EXIT_RAISED = "exit-raised"
    GC = "gc"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# Raw event codes (first item of each hot-path tuple). Layouts:
#   (ACQUIRE, lid, t_ns, spec, code, lasti, thread, task)
#   (RELEASE, lid, t_ns)                             -- a clean release (outcome `released`, no flags)
#   (RELEASE, lid, t_ns, outcome_code, error_repr, error_type, flags)
#   (ABORT,   lid)                                   -- a failed __enter__ withdraws an acquisition
#   (STREAM,  lid, t_ns, chunks, nbytes, first_ns)   -- cumulative stream counters
#   (MARK,    t_ns, text)                            -- run markers (start/end of a run or repeat)
#   (STACK,   lid, stack)                            -- deeper frames of an acquisition (stack_depth > 1)
# `spec` is a `Spec` tuple (kind, label, suppresses, shared); `code`/`lasti` are the site's code
# object and byte offset (or None/0): the line and the "path:line" text are worked out when the
# recorder folds the event, once per (code, offset). `thread` is the producing thread's token, a
# 1-tuple (thread name,); `task` is the asyncio task's name or None. `stack` is a tuple of
# "path:line in function" strings, innermost first.
# Invariant: RELEASE/ABORT/STACK of a lid always follow its ACQUIRE in the buffer (same producer,
# or a later one that got the id from it), and the recorder keeps only the first RELEASE of a lid.
ACQUIRE = 0
RELEASE = 1
ABORT = 2
STREAM = 3
MARK = 4
STACK = 5

# Outcome codes stored in the columnar table (int8).
OUT_MISSING = -2  # id issued but its acquire event was never seen (dropped or aborted)
OUT_OPEN = -1
OUT_RELEASED = 0
OUT_RELEASED_WITH_ERROR = 1
OUT_EXIT_RAISED = 2
OUT_GC = 3

OUTCOME_BY_CODE: dict[int, Outcome] = {
    OUT_OPEN: Outcome.OPEN,
    OUT_RELEASED: Outcome.RELEASED,
    OUT_RELEASED_WITH_ERROR: Outcome.RELEASED_WITH_ERROR,
    OUT_EXIT_RAISED: Outcome.EXIT_RAISED,
    OUT_GC: Outcome.GC,
}
CODE_BY_OUTCOME: dict[Outcome, int] = {v: k for k, v in OUTCOME_BY_CODE.items()}

# Release flags (bit field).
FLAG_SUPPRESSED = 1  # __exit__ returned a truthy value for an exception
FLAG_DECLARED = 2  # ... and the exception was one the manager declares it suppresses
FLAG_CLOSE = 4  # released through close()/aclose()/release() rather than a `with` exit


@dataclass(frozen=True, slots=True)
class Lifetime:
    """One resource from acquisition to release (or to now, if still open).

    Times are `time.perf_counter_ns()` values; `Recorder.t0_ns` is the zero of a run.
    """

    id: int
    kind: str
    label: str
    site: str | None  # "path/file.py:42" of the user's code that acquired it
    stack: tuple[str, ...]  # deeper frames, innermost first; empty unless stack_depth > 1
    thread: str
    task: str | None
    acquired_ns: int
    released_ns: int | None
    outcome: Outcome
    error: str | None  # "ValueError: boom" for the exception that passed through or that exit raised
    error_type: str | None  # qualified name of that exception's type
    suppressed: bool  # __exit__ swallowed `error`
    suppression_declared: bool  # ... and declared it would (track(..., suppresses=...))
    released_by_close: bool = False

    @property
    def is_open(self) -> bool:
        return self.outcome is Outcome.OPEN

    def duration_ns(self, now_ns: int) -> int:
        """Held time: until release, or until `now_ns` while open."""
        end = self.released_ns if self.released_ns is not None else now_ns
        return max(0, end - self.acquired_ns)


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Metrics of one tracked stream. `series` holds cumulative (t_ns, chunks, bytes) points."""

    lifetime_id: int
    label: str
    started_ns: int
    first_chunk_ns: int | None
    last_ns: int
    ended: bool
    chunks: int
    bytes: int
    series: tuple[tuple[int, int, int], ...]

    @property
    def ttfb_ns(self) -> int | None:
        return None if self.first_chunk_ns is None else self.first_chunk_ns - self.started_ns

    @property
    def duration_ns(self) -> int:
        return max(0, self.last_ns - self.started_ns)

    @property
    def throughput_bps(self) -> float:
        d = self.duration_ns
        return self.bytes * 1e9 / d if d > 0 else 0.0

    def rates(self) -> list[tuple[int, float, float]]:
        """(t_ns, bytes/s, chunks/s) between consecutive series points."""
        out: list[tuple[int, float, float]] = []
        prev = (self.started_ns, 0, 0)
        for point in self.series:
            dt = point[0] - prev[0]
            if dt > 0:
                out.append((point[0], (point[2] - prev[2]) * 1e9 / dt, (point[1] - prev[1]) * 1e9 / dt))
            prev = point
        return out


@dataclass(frozen=True, slots=True)
class Mark:
    """A point in time worth showing on every time axis (a run started, a repeat ended, ...)."""

    t_ns: int
    text: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A finding of a leak rule, with what a person needs to act on it."""

    rule: str
    severity: Severity
    message: str
    hint: str
    lifetime_id: int | None = None
    site: str | None = None
    stack: tuple[str, ...] = ()
    t_ns: int | None = None  # when the condition was seen


@dataclass(frozen=True, slots=True)
class Sample:
    """One psutil reading of the observed process."""

    t_ns: int
    rss_bytes: int
    fds: int
    threads: int
    connections: int
    cpu_percent: float


class LifetimeSequence(Sequence[Lifetime]):
    """Base of the read-only, lazily built sequences of lifetimes (a table's columns, a recording
    read from its file, a redacting view): equal to any sequence of equal lifetimes, unhashable
    like a list."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]
