"""Replay a recorded run through the live path: `ReplayFeed` + `ReplayRecorder`.

The views only know the `Bridge`, and the bridge follows recorders. A `ReplayFeed` sorts what a
`RunSnapshot` holds - acquisitions, releases, stream points, marks - by time; a `ReplayRecorder`
is a recorder as its readers see it (`subscribe`, `drain` -> `Batch`, `table` columns,
`lifetimes()`, `lifetime(id)`, `streams()`, `stream(id)`, `marks()`, `t0_ns`), filled by
`advance(t)` instead of by tracked code. Going forward applies the next changes; the caller makes
a new recorder to go back. At any time `t` a recorder advanced to `t` holds exactly what
`core.store.snapshot_at(snapshot, t)` describes (a test checks it); `alerts_until(t)` and
`samples_until(t)` are the matching prefixes of the alerts and samples.

It builds on the documented recorder API only (`LifetimeTable` columns and its `intern` /
`kind_id` / `thread_id` / `get`, the `Batch` record), never on the hot path's raw event tuples.
A feed is immutable once built (build it on any thread); a recorder belongs to the GUI thread.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from withscope.core.events import (
    CODE_BY_OUTCOME,
    FLAG_CLOSE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_OPEN,
    Alert,
    Lifetime,
    Mark,
    Outcome,
    Sample,
    StreamStats,
)
from withscope.core.recorder import Batch, LifetimeTable
from withscope.core.snapshot import RunSnapshot

# Change codes, in the order of changes that share a time stamp.
_ACQ, _MARK, _POINT, _REL = 0, 1, 2, 3


def _flags(lt: Lifetime) -> int:
    return (
        (FLAG_SUPPRESSED if lt.suppressed else 0)
        | (FLAG_DECLARED if lt.suppression_declared else 0)
        | (FLAG_CLOSE if lt.released_by_close else 0)
    )


class ReplayFeed:
    """The changes of one recorded run in time order (see the module docstring). Immutable."""

    def __init__(self, snapshot: RunSnapshot) -> None:
        self.snapshot = snapshot
        self.start_ns = snapshot.t0_ns
        self.end_ns = snapshot.run_end_ns
        self.max_id = max((lt.id for lt in snapshot.lifetimes), default=-1)
        keyed: list[tuple[int, int, int, Any]] = []
        for i, lt in enumerate(snapshot.lifetimes):
            keyed.append((lt.acquired_ns, _ACQ, i, lt))
            if lt.released_ns is not None and lt.outcome is not Outcome.OPEN:
                keyed.append((lt.released_ns, _REL, i, lt))
        self.streams: dict[int, StreamStats] = {st.lifetime_id: st for st in snapshot.streams}
        for st in snapshot.streams:
            for k, point in enumerate(st.series):
                keyed.append((point[0], _POINT, k, st.lifetime_id))
        for i, m in enumerate(snapshot.marks):
            keyed.append((m.t_ns, _MARK, i, m))
        keyed.sort(key=lambda c: (c[0], c[1], c[2]))
        self.times: list[int] = [c[0] for c in keyed]
        self.changes: list[tuple[int, int, Any]] = [(c[1], c[2], c[3]) for c in keyed]
        # Alerts without a time belong to the end (as in snapshot_at).
        self._alerts: list[Alert] = sorted(snapshot.alerts, key=lambda a: self.end_ns if a.t_ns is None else a.t_ns)
        self._alert_times = [self.end_ns if a.t_ns is None else a.t_ns for a in self._alerts]
        self._samples: list[Sample] = sorted(snapshot.samples, key=lambda s: s.t_ns)
        self._sample_times = [s.t_ns for s in self._samples]

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def upper(self, t_ns: int) -> int:
        """How many changes happened at or before `t_ns`."""
        return bisect.bisect_right(self.times, t_ns)

    def alerts_until(self, t_ns: int) -> list[Alert]:
        """Alerts raised at or before `t_ns` (every one from the end on), oldest first."""
        if t_ns >= self.end_ns:
            return self._alerts
        return self._alerts[: bisect.bisect_right(self._alert_times, t_ns)]

    def samples_until(self, t_ns: int) -> list[Sample]:
        return self._samples[: bisect.bisect_right(self._sample_times, t_ns)]

    def recorder_at(self, t_ns: int, name: str = "replay") -> ReplayRecorder:
        """A new recorder advanced to `t_ns` (not drained: a subscriber added before the next
        drain gets everything in one batch)."""
        rec = ReplayRecorder(self, name)
        rec.advance(t_ns)
        return rec


class ReplayRecorder:
    """A recorder's reader interface over a `ReplayFeed` (see the module docstring).

    `advance(t)` may only move forward. Thread-safety as `Recorder`: readers serialise on one
    re-entrant lock; subscribers run inside `drain` (a drain from a subscriber returns an empty
    batch).
    """

    def __init__(self, feed: ReplayFeed, name: str = "replay") -> None:
        snap = feed.snapshot
        self.feed = feed
        self.name = name
        self.t0_ns = snap.t0_ns
        self.wall_t0 = snap.wall_t0
        self.dropped = snap.dropped_events
        self.events_total = 0
        self.table = LifetimeTable()
        self.table.grow(feed.max_id + 1)
        self.cursor = 0  # changes applied so far
        self.t_ns = feed.start_ns - 1
        self._lock = threading.RLock()
        self._draining = False
        self._subscribers: list[Callable[[Batch], None]] = []
        self._points: dict[int, int] = {}  # stream id -> series points applied
        self._released_streams: set[int] = set()
        self._marks: list[Mark] = []
        self._acquired: list[int] = []  # pending for the next drain
        self._released: list[int] = []
        self._touched: set[int] = set()
        self._new_marks: list[Mark] = []

    # ------------------------------------------------------------------ feeding
    def advance(self, t_ns: int) -> int:
        """Apply every change up to `t_ns`; returns how many were applied."""
        feed = self.feed
        hi = feed.upper(t_ns)
        with self._lock:
            if t_ns > self.t_ns:
                self.t_ns = t_ns
            lo, self.cursor = self.cursor, max(self.cursor, hi)
            t = self.table
            streams = feed.streams
            for code, _i, obj in feed.changes[lo:hi]:
                if code == _ACQ:
                    lt: Lifetime = obj
                    lid = lt.id
                    t.acquired_ns[lid] = lt.acquired_ns
                    t.released_ns[lid] = -1
                    t.outcome[lid] = OUT_OPEN
                    t.flags[lid] = 0
                    t.kind[lid] = t.kind_id(lt.kind)
                    t.label[lid] = t.intern(lt.label)
                    t.site[lid] = t.intern(lt.site) if lt.site else 0
                    t.thread[lid] = t.thread_id(lt.thread)
                    t.task[lid] = t.intern(lt.task) if lt.task else 0
                    if lt.stack:
                        t.stacks[lid] = lt.stack
                    t.count += 1
                    self._acquired.append(lid)
                    if lid in streams:
                        self._points.setdefault(lid, 0)
                        self._touched.add(lid)
                elif code == _REL:
                    lt = obj
                    lid = lt.id
                    t.outcome[lid] = CODE_BY_OUTCOME[lt.outcome]
                    t.released_ns[lid] = lt.released_ns if lt.released_ns is not None else -1
                    t.flags[lid] = _flags(lt)
                    if lt.error is not None:
                        t.errors[lid] = (lt.error, lt.error_type or "")
                    self._released.append(lid)
                    if lid in streams:
                        self._released_streams.add(lid)
                        self._touched.add(lid)
                elif code == _POINT:
                    self._points[obj] = self._points.get(obj, 0) + 1
                    self._touched.add(obj)
                else:
                    self._marks.append(obj)
                    self._new_marks.append(obj)
            self.events_total += hi - lo
        return hi - lo

    # ------------------------------------------------------------------ the recorder's readers
    def subscribe(self, callback: Callable[[Batch], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def drain(self, max_events: int | None = None) -> Batch:
        """Hand what `advance` applied since the last drain to every subscriber."""
        with self._lock:
            if self._draining:
                return Batch(events=0, acquired=(), released=(), streams=(), marks=(), dropped_total=self.dropped)
            self._draining = True
            try:
                batch = Batch(
                    events=len(self._acquired) + len(self._released) + len(self._new_marks),
                    acquired=tuple(self._acquired),
                    released=tuple(self._released),
                    streams=tuple(sorted(self._touched)),
                    marks=tuple(self._new_marks),
                    dropped_total=self.dropped,
                )
                self._acquired, self._released, self._new_marks = [], [], []
                self._touched = set()
                for cb in list(self._subscribers):
                    cb(batch)
            finally:
                self._draining = False
            return batch

    def lifetimes(self) -> list[Lifetime]:
        self.drain()
        with self._lock:
            return list(self.table)

    def lifetime(self, lid: int) -> Lifetime | None:
        with self._lock:
            return self.table.get(lid)

    def open_lifetimes(self) -> list[Lifetime]:
        return [lt for lt in self.lifetimes() if lt.is_open]

    def stream(self, lid: int) -> StreamStats | None:
        with self._lock:
            st = self.feed.streams.get(lid)
            if st is None or lid not in self._points:
                return None
            series = st.series[: self._points[lid]]
            last = series[-1] if series else (st.started_ns, 0, 0)
            first = st.first_chunk_ns if st.first_chunk_ns is not None and st.first_chunk_ns <= self.t_ns else None
            return dataclasses.replace(
                st, series=series, chunks=last[1], bytes=last[2], first_chunk_ns=first,
                last_ns=max(st.started_ns, last[0]), ended=st.ended and lid in self._released_streams,
            )  # fmt: skip

    def streams(self) -> list[StreamStats]:
        self.drain()
        with self._lock:
            return [s for lid in sorted(self._points) if (s := self.stream(lid)) is not None]

    def marks(self) -> list[Mark]:
        self.drain()
        with self._lock:
            return list(self._marks)

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.t0_ns) / 1e9
