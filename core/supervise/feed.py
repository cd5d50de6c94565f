"""`ChildRecorder`: the parent's model of an observed process, folded from the batches it streams.

A `Recorder` whose events come from the wire instead of this process's hot path: the pipe reader
hands it each decoded "batch" message (`feed`, any thread), and `drain()` folds them into the
same `LifetimeTable`, stream accumulators and marks, then notifies subscribers with a `Batch`,
so every reader of a recorder (the run's live rules, the recording writer, the GUI's bridge, the
CLI's progress) reads a child run as it reads an in-process one. `mark()` adds the parent's own
marks (e.g. when it stops the process). Nothing is ever recorded into it from this process.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from ..events import OUT_MISSING, OUT_OPEN, Mark  # noqa: TID252 (mypy sees this tree as `core`)
from ..recorder import Batch, Recorder, _StreamAcc  # noqa: TID252


class ChildRecorder(Recorder):
    """Folds "batch" messages (see `core.agent.wire`) into a recorder's table. Thread-safety as
    `Recorder`: `feed` and `mark` from any thread, `drain` serialised on the recorder's lock."""

    def __init__(self, *, name: str = "child") -> None:
        super().__init__(name=name)
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._own_marks: deque[Mark] = deque()
        self._child_dropped = 0
        self._mark_lock = threading.Lock()
        self.batches_folded = 0

    def feed(self, message: tuple[Any, ...]) -> None:
        """Queue one "batch" message for the next drain."""
        self._inbox.append(message)

    def mark(self, text: str) -> None:
        self._own_marks.append(Mark(time.perf_counter_ns(), text))

    @property
    def pending(self) -> int:
        return len(self._inbox) + len(self._own_marks)

    @property
    def dropped(self) -> int:
        """Events the observed process's recorder refused (its buffer was full)."""
        return self._child_dropped

    def _fold(self, max_events: int | None) -> Batch:
        table = self.table
        streams = self._streams
        acquired: list[int] = []
        released: list[int] = []
        aborted: list[int] = []
        touched: set[int] = set()
        marks: list[Mark] = []
        events = 0
        inbox = self._inbox
        while inbox:
            msg = inbox.popleft()
            _, n_events, dropped_total, lifetimes, stream_rows, mark_rows, aborted_ids = msg
            events += n_events
            self._child_dropped = max(self._child_dropped, dropped_total)
            for row in lifetimes:
                self._fold_lifetime(row, acquired, released, touched)
            for lid, label, started, first, last, ended, chunks, nbytes, points in stream_rows:
                acc = streams.get(lid)
                if acc is None:
                    acc = streams[lid] = _StreamAcc(label, started)
                acc.first_ns = first
                acc.last_ns = max(acc.last_ns, last)
                acc.chunks, acc.nbytes = chunks, nbytes
                acc.ended = acc.ended or ended
                acc.series.extend(tuple(p) for p in points)
                touched.add(lid)
            for t_ns, text in mark_rows:
                m = Mark(t_ns, text)
                self._marks.append(m)
                marks.append(m)
            for lid in aborted_ids:
                if lid < len(table.outcome) and table.outcome[lid] == OUT_OPEN:
                    table.outcome[lid] = OUT_MISSING
                    table.count -= 1
                    streams.pop(lid, None)
                    touched.discard(lid)
                    aborted.append(lid)
            self.batches_folded += 1
        own = self._own_marks
        while own:
            m = own.popleft()
            self._marks.append(m)
            marks.append(m)
        if marks:
            self._marks.sort(key=lambda m: m.t_ns)
        self.events_total += events
        if aborted:
            acquired = [lid for lid in acquired if table.outcome[lid] != OUT_MISSING]
        return Batch(
            events, tuple(acquired), tuple(released), tuple(sorted(touched)), tuple(marks), self.dropped,
            tuple(aborted),
        )  # fmt: skip

    def _fold_lifetime(self, row: Any, acquired: list[int], released: list[int], touched: set[int]) -> None:
        lid, kind, label, site, thread, task, acq_ns, rel_ns, code, flags, err, err_type, stack = row
        t = self.table
        if lid >= len(t.outcome):
            t.grow(max(lid + 1, len(t.outcome) * 2, 1024))
        if t.outcome[lid] == OUT_MISSING:
            t.acquired_ns[lid] = acq_ns
            t.kind[lid] = t.kind_id(kind)
            t.label[lid] = t.intern(label)
            t.site[lid] = t.intern(site) if site else 0
            t.thread[lid] = t.thread_id(thread)
            t.task[lid] = t.intern(task) if task else 0
            if stack:
                t.stacks[lid] = tuple(stack)
            t.outcome[lid] = OUT_OPEN
            t.count += 1
            acquired.append(lid)
            if kind == "stream" and lid not in self._streams:
                self._streams[lid] = _StreamAcc(label, acq_ns)
        if code != OUT_OPEN and t.outcome[lid] == OUT_OPEN:
            t.released_ns[lid] = rel_ns
            t.flags[lid] = flags
            if err is not None:
                t.errors[lid] = (err, err_type or "")
            t.outcome[lid] = code
            released.append(lid)
            acc = self._streams.get(lid)
            if acc is not None:
                acc.end(rel_ns)
                touched.add(lid)
