"""`RunSnapshot`: everything known about one run, as immutable data.

The one shape every reader shares: the JSON report, the exporters, the recording store and the
GUI's replay all take a snapshot, whether it comes from a live run or from a recording file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import Alert, Lifetime, Mark, Sample, StreamStats

WORKLOAD_END_MARK = "workload end"  # written by the runner when the workload returned, raised or was cancelled


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

    @property
    def workload_end_ns(self) -> int | None:
        """When the workload itself returned, raised or was cancelled (the runner's "workload
        end" mark), before the run's cleanup; None if unknown (a live or interrupted run)."""
        return next((m.t_ns for m in self.marks if m.text == WORKLOAD_END_MARK), None)

    def released_by_cleanup(self, lt: Lifetime, workload_end_ns: int | None = None) -> bool:
        """True when `lt` was still open when the workload ended and only the run's cleanup
        (or the GC it ran) released it: as far as the workload goes, it leaked."""
        end = self.workload_end_ns if workload_end_ns is None else workload_end_ns
        return end is not None and lt.released_ns is not None and lt.released_ns > end
