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
from array import array
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
    def inbox_frames(self) -> int:
        """Batches fed and not folded yet."""
        return len(self._inbox)

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
            _, n_events, dropped_total, rows, stream_rows, mark_rows, aborted_ids, names = msg
            events += n_events
            self._child_dropped = max(self._child_dropped, dropped_total)
            self._add_names(names)
            if rows is not None:
                self._fold_rows(rows, acquired, released, touched)
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

    def _add_names(self, names: tuple[Any, ...]) -> None:
        """Mirror the names the observed process's table interned (same index for the same name)."""
        t = self.table
        first_string, strings, first_kind, kinds, first_thread, threads = names
        if first_string != len(t.strings) or first_kind != len(t.kinds) or first_thread != len(t.threads):
            raise ValueError("the child's name tables are out of step with this recorder's")
        for s in strings:
            t._string_ids.setdefault(s, len(t.strings))
            t.strings.append(s)
        for k in kinds:
            t._kind_ids.setdefault(k, len(t.kinds))
            t.kinds.append(k)
        for name in threads:
            t._thread_ids.setdefault(name, len(t.threads))
            t.threads.append(name)

    def _fold_rows(self, rows: tuple[Any, ...], acquired: list[int], released: list[int], touched: set[int]) -> None:
        """Copy the child's rows into the table (its state is authoritative: a row's acquisition
        never changes, and it is released at most once) and list what is new here."""
        t = self.table
        lo, hi, ids, *data, errors, stacks = rows
        cols = (t.acquired_ns, t.released_ns, t.outcome, t.flags, t.kind, t.label, t.site, t.thread, t.task)
        values = []
        for col, raw in zip(cols, data, strict=True):
            arr = array(col.typecode)
            arr.frombytes(raw)
            values.append(arr)
        new_outcome = values[2]
        if hi >= len(t.outcome):
            t.grow(max(hi + 1, len(t.outcome) * 2, 1024))
        if ids is None:
            lids: Any = range(lo, hi + 1)
            old_outcome = t.outcome[lo : hi + 1]
        else:
            lids = ids
            old_outcome = array("b", map(t.outcome.__getitem__, ids))
        triples = list(zip(lids, old_outcome, new_outcome, strict=True))
        new_ids = [lid for lid, old, new in triples if old == OUT_MISSING and new != OUT_MISSING]
        gone = [lid for lid, old, new in triples if old != OUT_MISSING and new == OUT_MISSING]
        done = [lid for lid, old, new in triples if new >= 0 and old < 0]
        for lid, err, err_type in errors:
            t.errors[lid] = (err, err_type or "")
        for lid, stack in stacks:
            t.stacks[lid] = tuple(stack)
        # `outcome` last: a row is seen (not OUT_MISSING) only once all its columns are written.
        order = (0, 1, 3, 4, 5, 6, 7, 8, 2)
        if ids is None:
            for i in order:
                cols[i][lo : hi + 1] = values[i]
        else:
            for i in order:
                col, vals = cols[i], values[i]
                for lid, v in zip(ids, vals, strict=True):
                    col[lid] = v
        t.count += len(new_ids) - len(gone)
        acquired.extend(new_ids)
        released.extend(done)
        streams = self._streams
        if new_ids and streams is not None:
            stream_kind = t._kind_ids.get("stream")
            if stream_kind is not None:
                for lid in new_ids:
                    if t.kind[lid] == stream_kind and lid not in streams:
                        streams[lid] = _StreamAcc(t.strings[t.label[lid]], t.acquired_ns[lid])
        for lid in done:
            acc = streams.get(lid)
            if acc is not None:
                acc.end(t.released_ns[lid])
                touched.add(lid)
