"""`RunSnapshot`: everything known about one run, as immutable data.

The one shape every reader shares: the JSON report, the exporters, the recording store and the
GUI's replay all take a snapshot, whether it comes from a live run or from a recording file.

`lifetimes` is any read-only sequence: a tuple for a hand-built snapshot, a `TableLifetimes`
(columnar, built one item at a time when read) for a run's, a rows-on-demand sequence for a
recording's. Readers iterate it once or index it; they never copy the whole of it into a list.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from withscope.core import marks

from .events import (
    FLAG_SUPPRESSED,
    OUT_MISSING,
    OUT_OPEN,
    OUTCOME_BY_CODE,
    Alert,
    Lifetime,
    LifetimeSequence,
    Mark,
    Sample,
    StreamStats,
)
from .lifetime_table import LifetimeTable

_MISSING_BYTE = (OUT_MISSING & 0xFF).to_bytes(1, "little")


@dataclass(frozen=True, slots=True, repr=False)
class RunSnapshot:
    target: str
    status: str  # a RunStatus, or "exited N" / "crashed: SIGNAME" (core/status.py)
    error: str | None
    t0_ns: int  # perf_counter_ns at the start of the run: the zero of every time below
    wall_t0: float  # Unix time at t0_ns
    end_ns: int | None  # None while running
    lifetimes: Sequence[Lifetime] = ()
    alerts: tuple[Alert, ...] = ()
    streams: tuple[StreamStats, ...] = ()
    samples: tuple[Sample, ...] = ()
    marks: tuple[Mark, ...] = ()
    dropped_events: int = 0
    meta: dict[str, str] = field(default_factory=dict)  # repeat, timeout, db, python, host, ...

    def __repr__(self) -> str:
        # Short whatever the size: asyncio and loggers repr a task's result (a run's snapshot),
        # and the full form of ten million lifetimes is gigabytes of text.
        return (
            f"RunSnapshot(target={self.target!r}, status={self.status!r}, lifetimes={len(self.lifetimes)}, "
            f"alerts={len(self.alerts)}, streams={len(self.streams)}, samples={len(self.samples)}, "
            f"marks={len(self.marks)})"
        )

    @property
    def run_end_ns(self) -> int:
        """Where the run's time axis ends: `end_ns` (never before `t0_ns`), or for an unfinished
        run (a live snapshot, a recording whose process was killed) the latest time anything was
        seen: a lifetime's acquisition or release, an alert, a sample, a stream, a mark. The one
        definition every report, export and view uses."""
        if self.end_ns is not None:
            return max(self.end_ns, self.t0_ns)
        latest = self.t0_ns
        lifetimes_latest = getattr(self.lifetimes, "latest_ns", None)  # columnar: no object per lifetime
        if lifetimes_latest is not None:
            latest = max(latest, lifetimes_latest() or latest)
        else:
            for lt in self.lifetimes:
                latest = max(latest, lt.acquired_ns, lt.released_ns or 0)
        for a in self.alerts:
            latest = max(latest, a.t_ns or 0)
        for smp in self.samples:
            latest = max(latest, smp.t_ns)
        for st in self.streams:
            latest = max(latest, st.last_ns)
        for m in self.marks:
            latest = max(latest, m.t_ns)
        return latest

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
        return next((m.t_ns for m in self.marks if m.text == marks.WORKLOAD_END), None)

    def released_by_cleanup(self, lt: Lifetime, workload_end_ns: int | None = None) -> bool:
        """True when `lt` was still open when the workload ended and only the run's cleanup
        (or the GC it ran) released it: as far as the workload goes, it leaked."""
        end = self.workload_end_ns if workload_end_ns is None else workload_end_ns
        return end is not None and lt.released_ns is not None and lt.released_ns > end


class TableLifetimes(LifetimeSequence):
    """The lifetimes of a recorder's `LifetimeTable` as a read-only sequence, frozen when made.

    Columnar: nothing per lifetime is kept beyond a copy of the three columns a release changes
    (release time, outcome, flags: 10 bytes a row); a `Lifetime` is built only when an item is
    read, so a run of ten million lifetimes costs no more after the run than while it ran.
    Rows whose acquire was never seen are left out. Later changes to the table (a release seen
    after this was made) do not show. Make it under the recorder's lock (`Recorder.frozen_lifetimes`);
    then read it from any thread.
    """

    __slots__ = ("_flags", "_ids", "_outcome", "_released", "_table")

    def __init__(self, table: LifetimeTable) -> None:
        self._table = table
        n = len(table.outcome)
        self._outcome = table.outcome[:n]
        self._released = table.released_ns[:n]
        self._flags = table.flags[:n]
        raw = self._outcome.tobytes()
        missing = _MISSING_BYTE
        first = raw.find(missing)
        self._ids: range | array[int]
        if first < 0:
            self._ids = range(n)
        elif raw.count(missing, first) == n - first:  # only the table's spare capacity at the end
            self._ids = range(first)
        else:
            self._ids = array("q", [i for i, code in enumerate(self._outcome) if code != OUT_MISSING])

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, i: int) -> Lifetime: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Lifetime, ...]: ...
    def __getitem__(self, i: int | slice) -> Lifetime | tuple[Lifetime, ...]:
        if isinstance(i, slice):
            return tuple(self._get(lid) for lid in self._ids[i])
        return self._get(self._ids[i])

    def __iter__(self) -> Iterator[Lifetime]:
        get = self._get
        for lid in self._ids:
            yield get(lid)

    def __repr__(self) -> str:
        return f"<{len(self)} lifetimes>"

    def _get(self, lid: int) -> Lifetime:
        return self._table.build(lid, self._outcome[lid], self._released[lid], self._flags[lid])

    # ------------------------------------------------------------- columnar queries
    def select(self, lids: Iterable[int]) -> list[Lifetime]:
        """The lifetimes of these ids (ids not in the sequence are skipped), in the order given."""
        n = len(self._outcome)
        return [self._get(lid) for lid in lids if 0 <= lid < n and self._outcome[lid] != OUT_MISSING]

    def ids_with_outcome(self, *codes: int) -> list[int]:
        """Ids whose outcome code (`events.OUT_*`) is one of `codes`, ascending."""
        raw = self._outcome.tobytes()
        found: list[int] = []
        for code in codes:
            b = (code & 0xFF).to_bytes(1, "little")
            i = raw.find(b)
            while i >= 0:
                found.append(i)
                i = raw.find(b, i + 1)
        return sorted(found)

    def ids_with_flags(self, all_of: int, none_of: int = 0) -> list[int]:
        """Ids whose release flags have every bit of `all_of` and none of `none_of`."""
        if not any(self._flags):
            return []
        return [i for i, f in enumerate(self._flags) if f & all_of == all_of and not f & none_of
                and self._outcome[i] != OUT_MISSING]  # fmt: skip

    def ids_of_kinds(self, kinds: Iterable[str]) -> list[int]:
        """Ids of the lifetimes whose kind is one of `kinds`."""
        t = self._table
        wanted = {t.kinds.index(k) for k in kinds if k in t.kinds}
        if not wanted:
            return []
        kind = t.kind
        return [i for i in self._ids if kind[i] in wanted]

    def ids_held_over(self, limit_ns: int, now_ns: int, exclude_kinds: Iterable[str] = ()) -> list[int]:
        """Ids held longer than `limit_ns` (open ones until `now_ns`), leaving out `exclude_kinds`."""
        t = self._table
        skip = {t.kinds.index(k) for k in exclude_kinds if k in t.kinds}
        acq, rel, out, kind = t.acquired_ns, self._released, self._outcome, t.kind
        rows: Iterable[tuple[int, int, int, int, int]]
        if isinstance(self._ids, range):  # one pass over the columns, no per-row indexing
            rows = zip(self._ids, acq, rel, out, kind, strict=False)  # the columns may be longer
        else:
            rows = ((i, acq[i], rel[i], out[i], kind[i]) for i in self._ids)
        return [
            i for i, a, r, o, k in rows
            if (now_ns if o == OUT_OPEN else r) - a > limit_ns and k not in skip
        ]  # fmt: skip

    def report_rows(self) -> Iterator[tuple[int, str, str, str | None, int, int | None, str, str | None, bool]]:
        """(id, kind, label, site, acquired_ns, released_ns, outcome value, error, suppressed) of
        every lifetime, read straight from the columns (what a report writes; no `Lifetime` made)."""
        t = self._table
        kinds, strings, kind_col, label_col, site_col, acq = t.kinds, t.strings, t.kind, t.label, t.site, t.acquired_ns
        errors, out, rel, flags = t.errors, self._outcome, self._released, self._flags
        values = {code: o.value for code, o in OUTCOME_BY_CODE.items()}
        for lid in self._ids:
            code = out[lid]
            is_open = code == OUT_OPEN
            site = site_col[lid]
            err = None if is_open else errors.get(lid)
            yield (
                lid, kinds[kind_col[lid]], strings[label_col[lid]], strings[site] if site else None, acq[lid],
                None if is_open or rel[lid] < 0 else rel[lid], values[code], err[0] if err else None,
                bool(flags[lid] & FLAG_SUPPRESSED),
            )  # fmt: skip

    def ids_released_after(self, t_ns: int) -> list[int]:
        """Ids released (by any outcome) after `t_ns`."""
        out = self._outcome
        return [i for i, r in enumerate(self._released) if r > t_ns and out[i] not in (OUT_OPEN, OUT_MISSING)]

    def latest_ns(self) -> int | None:
        """The latest acquire or release time of any lifetime (None when there are none)."""
        if not self._ids:
            return None
        acq, rel = self._table.acquired_ns, self._released
        return max(max(acq[i], rel[i]) for i in self._ids)
