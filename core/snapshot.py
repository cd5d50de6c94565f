"""`RunSnapshot`: everything known about one run, as immutable data.

The one shape every reader shares: the JSON report, the exporters, the recording store and the
GUI's replay all take a snapshot, whether it comes from a live run or from a recording file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import Alert, Lifetime, Mark, Sample, StreamStats


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    target: str
    status: str  # "running" | "ok" | "error" | "cancelled"
    error: str | None
    t0_ns: int  # perf_counter_ns at the start of the run: the zero of every time below
    wall_t0: float  # Unix time at t0_ns
    end_ns: int | None  # None while running
    lifetimes: tuple[Lifetime, ...] = ()
    alerts: tuple[Alert, ...] = ()
    streams: tuple[StreamStats, ...] = ()
    samples: tuple[Sample, ...] = ()
    marks: tuple[Mark, ...] = ()
    dropped_events: int = 0
    meta: dict[str, str] = field(default_factory=dict)  # repeat, timeout, db, python, host, ...

    @property
    def duration_s(self) -> float:
        return 0.0 if self.end_ns is None else max(0.0, (self.end_ns - self.t0_ns) / 1e9)

    def seconds(self, t_ns: int) -> float:
        """A perf_counter_ns time as seconds from the run start."""
        return (t_ns - self.t0_ns) / 1e9
