"""The one adapter between `core/` and the views.

`Bridge` follows the recorders of the runs the app shows. A `QTimer` on the GUI thread ticks at a
fixed frame rate (`FPS`); each tick drains every followed recorder once, folds what changed into
plain data and publishes it through Qt signals - never one signal per event:

- `lifetimesChanged(LifetimeDelta)`: rows appended to / updated in `Bridge.store`
  (a `LifetimeStore` of numpy columns, times in seconds since `Bridge.origin_ns`);
- `alertsAdded(list[RunAlert])`, `samplesAdded(SampleBlock)`, `streamsChanged(list[RunStream])`,
  `marksAdded(list[RunMark])`, `statsChanged(BridgeStats)`, `runsChanged()`, `cleared()`;
- `trimmed(Trim)`: the store was replaced by a smaller one (see below); rows are renumbered.
- `metricsRunChanged(key, name)`: the run whose process samples `samplesAdded` now carries.

Process samples: each run brings its own sampler (a child run's samples its process tree, never
the app). One series is shown at a time, the metrics run's (`metrics_key`): the latest run
attached with samples; when it ends while others run, the latest of those. Samples of the other
runs are not published (two processes' figures on one curve would read as one process jumping).

Memory budget: the store keeps at most `max_rows` lifetimes (`memory_budget_mb`, default
`DEFAULT_BUDGET_MB`, or ``$WITHSCOPE_MEMORY_BUDGET_MB``, over `ROW_COST` bytes a shown
lifetime costs across the app). Past it, the oldest released lifetimes are taken out of the
store and counted per kind and second in `Bridge.history` (`AggregatedHistory`): open ones and
the newest half stay. A long run never grows the views' data without bound; what was taken out
is still in the run's recording, when it is recorded.

Threading: recorders may be drained by anyone on any thread; the bridge subscribes to their
batches and only copies data under the recorder's lock in its callback (no Qt there). Everything
else - the store, the signals, the views - lives on the GUI thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from withscope.core import marks as run_marks
from withscope.core.events import OUT_MISSING, OUT_OPEN, Alert, Lifetime, Mark, Sample, StreamStats
from withscope.core.recorder import Batch, LifetimeTable
from withscope.gui.bridge.frames import Frames
from withscope.gui.model.bridge_data import (
    AggregatedHistory,
    BridgeStats,
    LifetimeDelta,
    LifetimeStore,
    RunAlert,
    RunMark,
    RunStream,
    SampleBlock,
    Trim,
)

__all__ = [
    "AggregatedHistory",
    "Bridge",
    "BridgeStats",
    "LifetimeDelta",
    "LifetimeStore",
    "RunAlert",
    "RunMark",
    "RunStream",
    "SampleBlock",
    "Trim",
]

log = logging.getLogger("withscope")

FPS = 30
_RESYNC_EVERY = 30  # batches between re-reads of rows we believe open
BUDGET_ENV = "WITHSCOPE_MEMORY_BUDGET_MB"
DEFAULT_BUDGET_MB = 100.0
# Bytes one shown lifetime costs the app: the store's columns and id map, the timeline's lane
# layout and bar codes, each with the slack of geometric growth.
ROW_COST = 200
MIN_ROWS = 10_000


def budget_mb_from_env(default: float = DEFAULT_BUDGET_MB) -> float:
    """The memory budget in MB: ``$WITHSCOPE_MEMORY_BUDGET_MB`` when it is a positive number."""
    try:
        value = float(os.environ.get(BUDGET_ENV, ""))
    except ValueError:
        return default
    return value if value > 0 else default


class RecorderReader(Protocol):
    """What the bridge reads of a run's recorder: `core.recorder.Recorder` live, or a replay's
    `ReplayRecorder` (the same reader interface over a recording)."""

    @property
    def t0_ns(self) -> int: ...
    @property
    def table(self) -> LifetimeTable: ...
    @property
    def dropped(self) -> int: ...
    @property
    def _lock(self) -> AbstractContextManager[Any]: ...  # re-entrant: the table's columns are written under it
    def subscribe(self, callback: Callable[[Batch], None]) -> Callable[[], None]: ...
    def drain(self, max_events: int | None = None) -> Batch: ...
    def lifetime(self, lid: int) -> Lifetime | None: ...
    def stream(self, lid: int) -> StreamStats | None: ...
    def streams(self) -> list[StreamStats]: ...
    def marks(self) -> list[Mark]: ...


class _Source:
    """A followed run: its recorder plus accessors for alerts and samples (any live sequence)."""

    def __init__(
        self,
        key: int,
        name: str,
        recorder: RecorderReader,
        alerts: Callable[[], Sequence[Alert]],
        samples: Callable[[], Sequence[Sample]],
    ) -> None:
        self.key = key
        self.name = name
        self.recorder = recorder
        self.alerts = alerts
        self.samples = samples
        self.running = True
        self.alert_cursor = 0
        self.last_sample_ns = -1
        self.lock = threading.Lock()
        self.pending: list[dict[str, Any]] = []
        self.open: set[int] = set()
        self.batches = 0
        self.dropped = 0
        self.unsubscribe: Callable[[], None] = lambda: None
        self.unsubscribe_sampler: Callable[[], None] = lambda: None
        self.pushed_samples: list[Sample] = []
        self.sampler: Any = None  # the run's own sampler, when it has one


@dataclass(slots=True)
class _Rate:
    window_s: float = 2.0
    points: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, n: int) -> float:
        now = time.monotonic()
        self.points.append((now, n))
        while self.points and now - self.points[0][0] > self.window_s:
            self.points.popleft()
        if len(self.points) < 2:
            return 0.0
        span = now - self.points[0][0]
        return sum(p[1] for p in list(self.points)[1:]) / span if span > 0 else 0.0


class Bridge(QObject):
    """Drains followed recorders at `FPS` and publishes plain data. GUI thread only (see module)."""

    lifetimesChanged = Signal(object)  # LifetimeDelta
    alertsAdded = Signal(list)  # list[RunAlert]
    samplesAdded = Signal(object)  # SampleBlock
    streamsChanged = Signal(list)  # list[RunStream]
    marksAdded = Signal(list)  # list[RunMark]
    statsChanged = Signal(object)  # BridgeStats
    runsChanged = Signal()
    cleared = Signal()
    trimmed = Signal(object)  # Trim
    metricsRunChanged = Signal(int, str)  # key of the run the samples are of (-1: none), its name

    def __init__(
        self, parent: QObject | None = None, *, fps: int = FPS, memory_budget_mb: float | None = None
    ) -> None:
        super().__init__(parent)
        self.store = LifetimeStore()
        self.history = AggregatedHistory()
        self.memory_budget_mb = budget_mb_from_env() if memory_budget_mb is None else memory_budget_mb
        self.max_rows = max(MIN_ROWS, int(self.memory_budget_mb * 1e6 / ROW_COST))
        self.origin_ns: int | None = None
        self.clock: Callable[[], int] = time.perf_counter_ns  # replay may substitute its own
        self._sources: dict[int, _Source] = {}
        self._next_key = 0
        self._last_sample_ns = -1
        self._rate = _Rate()
        self._workload_end: dict[int, float] = {}  # run key -> seconds of its "workload end" mark
        self._sampled: list[Sample] = []  # from follow_sampler(), published at the next tick
        self._unfollow_sampler: Callable[[], None] = lambda: None
        self.metrics_key: int | None = None  # the run whose samples are published (see the module)
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, round(1000 / fps)))
        self._timer.timeout.connect(self.tick)
        # Views redraw in staggered slots after each tick while it runs (see frames.py).
        self.frames = Frames(self._timer.isActive, self)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def close(self) -> None:
        """Stop ticking and unsubscribe from every recorder."""
        self._timer.stop()
        self.frames.clear()
        for src in self._sources.values():
            src.unsubscribe()
            src.unsubscribe_sampler()
        self._unfollow_sampler()

    def follow_sampler(self, sampler: Any) -> None:
        """Publish every sample of an app-wide sampler (`subscribe(cb) -> unsubscribe`, callbacks on
        the GUI thread) at the next tick. Replaces a sampler followed before."""
        self._unfollow_sampler()
        self._unfollow_sampler = sampler.subscribe(self._sampled.append)

    # ------------------------------------------------------------------ sources
    def attach(
        self,
        recorder: RecorderReader,
        name: str,
        *,
        alerts: Callable[[], Sequence[Alert]] | None = None,
        samples: Callable[[], Sequence[Sample]] | None = None,
        sampler: Any = None,
    ) -> int:
        """Follow `recorder` (a run named `name`); returns the run key used in every signal.

        `alerts()` returns the run's alerts so far (a growing list, oldest first); `samples()`
        its samples so far (oldest first; may be bounded), or pass `sampler`, an object with
        `subscribe(callback) -> unsubscribe` (core.sampler.Sampler) called on the GUI thread.
        """
        key = self._next_key
        self._next_key += 1
        if self.origin_ns is None:
            self.origin_ns = recorder.t0_ns
        src = _Source(key, name, recorder, alerts or (lambda: ()), samples or (lambda: ()))

        def on_batch(batch: Batch) -> None:
            self._on_batch(src, batch)

        src.unsubscribe = recorder.subscribe(on_batch)
        if sampler is not None:
            src.sampler = sampler
            src.unsubscribe_sampler = sampler.subscribe(src.pushed_samples.append)
        self._sources[key] = src
        self.runsChanged.emit()
        if sampler is not None or samples is not None:
            self._set_metrics(key)
        return key

    def _set_metrics(self, key: int | None) -> None:
        if key == self.metrics_key:
            return
        self.metrics_key = key
        src = self._sources.get(key) if key is not None else None
        self.metricsRunChanged.emit(-1 if src is None else src.key, "" if src is None else src.name)

    def _next_metrics(self) -> None:
        """The metrics run ended or went: the latest running run with samples takes its place
        (none running: a finished metrics run keeps its series)."""
        live = [s.key for s in self._sources.values() if s.running and s.sampler is not None]
        if live:
            self._set_metrics(live[-1])
        elif self.metrics_key not in self._sources:
            self._set_metrics(None)

    def metrics_pid(self) -> int | None:
        """The pid the metrics run's sampler reads (a child run's main process)."""
        src = self._sources.get(self.metrics_key) if self.metrics_key is not None else None
        pid = getattr(src.sampler, "pid", None) if src is not None else None
        return pid if isinstance(pid, int) else None

    def finish(self, key: int) -> None:
        """The run `key` ended: fold what is left, then stop following its recorder."""
        src = self._sources.get(key)
        if src is None or not src.running:
            return
        self.tick()
        src.running = False
        src.unsubscribe()
        src.unsubscribe_sampler()
        self.runsChanged.emit()
        self.tick()
        if key == self.metrics_key:
            self._next_metrics()

    def released_by_cleanup(self, row: int) -> bool:
        """True when a lifetime outlived its workload and was released by the run's cleanup."""
        end = float(self.store.end[row])
        w_end = self._workload_end.get(int(self.store.run[row]))
        return w_end is not None and end == end and end > w_end

    def run_name(self, key: int) -> str:
        src = self._sources.get(key)
        return src.name if src is not None else f"run {key}"

    def recorder(self, key: int) -> RecorderReader | None:
        src = self._sources.get(key)
        return None if src is None else src.recorder

    def running(self) -> list[str]:
        return [s.name for s in self._sources.values() if s.running]

    def runs(self) -> list[tuple[int, str, bool]]:
        return [(s.key, s.name, s.running) for s in self._sources.values()]

    def clear(self) -> None:
        """Forget every finished run and all shown data (running runs keep being followed)."""
        for key in [k for k, s in self._sources.items() if not s.running]:
            gone = self._sources.pop(key)
            gone.unsubscribe()
            gone.unsubscribe_sampler()
        self._next_metrics()
        self.store = LifetimeStore()
        self.history = AggregatedHistory()
        self.origin_ns = None
        self._last_sample_ns = -1
        self._workload_end.clear()
        for src in self._sources.values():
            if self.origin_ns is None:
                self.origin_ns = src.recorder.t0_ns
            src.alert_cursor = 0
            with src.lock:
                src.pending.clear()
            src.open.clear()
        self.cleared.emit()
        self.runsChanged.emit()
        # Running runs: re-read everything they recorded so far.
        for src in self._sources.values():
            self._resync_all(src)
        self.tick()

    # ------------------------------------------------------------------ time
    def seconds(self, t_ns: int) -> float:
        return 0.0 if self.origin_ns is None else (t_ns - self.origin_ns) / 1e9

    def now_s(self) -> float:
        return self.seconds(self.clock())

    def lifetime(self, row: int) -> Lifetime | None:
        """The full record (site, stack, error...) behind a store row."""
        if not 0 <= row < self.store.n:
            return None
        rec = self.recorder(int(self.store.run[row]))
        return None if rec is None else rec.lifetime(int(self.store.lid[row]))

    # ------------------------------------------------------------------ recorder side
    def _on_batch(self, src: _Source, batch: Batch) -> None:
        """Runs on the draining thread under the recorder's lock: copy, never touch Qt."""
        t = src.recorder.table
        item: dict[str, Any] = {"events": batch.events, "dropped": batch.dropped_total}
        if batch.acquired:
            ids = np.fromiter(batch.acquired, np.int64, len(batch.acquired))
            lo, hi = int(ids.min()), int(ids.max()) + 1
            sel = ids - lo
            kinds = np.array([*(t.kinds or ["?"])], dtype=object)
            item["acq"] = (
                ids,
                np.frombuffer(t.acquired_ns[lo:hi], np.int64)[sel],
                np.frombuffer(t.released_ns[lo:hi], np.int64)[sel],
                np.frombuffer(t.outcome[lo:hi], np.int8)[sel],
                kinds[np.frombuffer(t.kind[lo:hi], np.uint16)[sel]],
            )
            opened = ids[item["acq"][3] == OUT_OPEN]
            src.open.update(opened.tolist())
        # Released ids, and acquisitions withdrawn because their __enter__ failed (outcome -2: hidden).
        updates = [*batch.released, *getattr(batch, "aborted", ())]
        src.open.difference_update(updates)
        src.batches += 1
        if src.batches % _RESYNC_EVERY == 0 and src.open:
            gone = [lid for lid in src.open if t.outcome[lid] != OUT_OPEN]
            src.open.difference_update(gone)
            updates.extend(gone)
        if updates:
            item["rel"] = (
                np.array(updates, np.int64),
                np.array([t.released_ns[i] for i in updates], np.int64),
                np.array([t.outcome[i] for i in updates], np.int8),
            )
        if batch.streams:
            # Recorder._lock is re-entrant: reading stream stats here is consistent with the batch.
            item["streams"] = [st for lid in batch.streams if (st := src.recorder.stream(lid)) is not None]
        if batch.marks:
            item["marks"] = batch.marks
        with src.lock:
            src.pending.append(item)

    def _resync_all(self, src: _Source) -> None:
        """Queue everything `src` recorded so far (after `clear()`), read from the recorder's
        columns: a long run's millions of lifetimes are never built as objects here (the next
        tick trims what passes the memory budget)."""
        rec = src.recorder
        rec.drain()
        with rec._lock:  # the columns are written under it (Recorder.drain)
            t = rec.table
            n = len(t.outcome)
            out = np.frombuffer(t.outcome[:n], np.int8)  # slices copy: no buffer of the table stays exported
            ids = np.flatnonzero(out != OUT_MISSING).astype(np.int64)
            if not len(ids):
                return
            acq = np.frombuffer(t.acquired_ns[:n], np.int64)[ids]
            rel = np.frombuffer(t.released_ns[:n], np.int64)[ids]
            kinds = np.array([*(t.kinds or ["?"])], dtype=object)[np.frombuffer(t.kind[:n], np.uint16)[ids]]
        codes = out[ids]
        item: dict[str, Any] = {
            "events": 0,
            "dropped": rec.dropped,
            "acq": (ids, acq, rel, codes, kinds),
            "marks": tuple(rec.marks()),
            "streams": rec.streams(),
        }
        src.open.update(ids[codes == OUT_OPEN].tolist())
        with src.lock:
            src.pending.append(item)

    # ------------------------------------------------------------------ GUI side
    def tick(self) -> None:
        """Drain every followed recorder once and publish what changed (GUI thread)."""
        for src in list(self._sources.values()):
            if src.running:
                try:
                    src.recorder.drain()
                except Exception:  # observing never breaks the app
                    log.exception("withscope: draining %s failed", src.name)
        store = self.store
        lo = store.n
        updated: list[np.ndarray] = []
        alerts: list[RunAlert] = []
        streams: dict[tuple[int, int], RunStream] = {}
        marks: list[RunMark] = []
        events = 0
        samples: list[Sample] = []
        if self._sampled:
            samples, self._sampled[:] = list(self._sampled), []
        for src in list(self._sources.values()):
            with src.lock:
                pending, src.pending = src.pending, []
            for item in pending:
                events += item["events"]
                src.dropped = max(src.dropped, item["dropped"])
                self._fold_item(src, item, updated, streams, marks)
            alerts.extend(self._new_alerts(src))
            fresh = self._new_samples(src)
            if src.key == self.metrics_key:  # the other runs' samples are not shown (see the module)
                samples.extend(fresh)
        if store.n > self.max_rows:
            self._trim()
            store = self.store
            self.lifetimesChanged.emit(LifetimeDelta(0, store.n, np.zeros(0, np.int64), reset=True))
        elif store.n > lo or updated:
            upd = np.unique(np.concatenate(updated)) if updated else np.zeros(0, np.int64)
            self.lifetimesChanged.emit(LifetimeDelta(lo, store.n, upd))
        if alerts:
            self.alertsAdded.emit(alerts)
        if streams:
            self.streamsChanged.emit(list(streams.values()))
        if marks:
            self.marksAdded.emit(marks)
        if samples and self.origin_ns is not None:
            samples = [s for s in samples if s.t_ns > self._last_sample_ns and s.t_ns >= self.origin_ns]
            if samples:
                self._last_sample_ns = max(s.t_ns for s in samples)
                self.samplesAdded.emit(self._sample_block(samples))
        eps = self._rate.add(events)
        n_open = int(np.count_nonzero(store.outcome[: store.n] == OUT_OPEN))
        self.statsChanged.emit(
            BridgeStats(
                running=tuple(self.running()),
                events_per_s=eps,
                dropped=sum(s.dropped for s in self._sources.values()),
                lifetimes=store.n,
                open=n_open,
            )
        )

    def _trim(self) -> None:
        """Keep the open lifetimes and the newest `max_rows // 2`; count the others into
        `history`; replace the store and tell the views (`trimmed`) how rows moved."""
        old = self.store
        n = old.n
        keep = np.zeros(n, bool)
        keep[max(0, n - self.max_rows // 2) :] = True
        keep |= old.outcome[:n] == OUT_OPEN
        gone = np.flatnonzero(~keep)
        self.history.add(old.start[gone], old.kind[gone])
        kept = np.flatnonzero(keep)
        remap = np.full(n, -1, np.int64)
        remap[kept] = np.arange(len(kept), dtype=np.int64)
        self.store = old.take(kept)
        self.trimmed.emit(Trim(remap, self.history))

    def _fold_item(
        self,
        src: _Source,
        item: dict[str, Any],
        updated: list[np.ndarray],
        streams: dict[tuple[int, int], RunStream],
        marks: list[RunMark],
    ) -> None:
        store = self.store
        origin = self.origin_ns if self.origin_ns is not None else src.recorder.t0_ns
        if "acq" in item:
            ids, acq, rel, out, kinds = item["acq"]
            known = store.rows_of(src.key, ids)
            new = known < 0
            if new.any():
                kind_ids = np.fromiter((store.kind_id(k) for k in kinds[new]), np.int16, int(new.sum()))
                r = rel[new]
                end = np.where(r < 0, np.nan, (r - origin) / 1e9)
                store.append(src.key, ids[new], (acq[new] - origin) / 1e9, end, out[new], kind_ids)
        if "rel" in item:
            ids, rel, out = item["rel"]
            rows = store.rows_of(src.key, ids)
            ok = rows >= 0
            if ok.any():
                rows = rows[ok]
                r = rel[ok]
                ends = np.where(r < 0, np.nan, (r - origin) / 1e9)
                store.end[rows] = ends
                store.outcome[rows] = out[ok]
                store.note_ends(ends)
                updated.append(rows)
        for st in item.get("streams", ()):
            streams[(src.key, st.lifetime_id)] = RunStream(src.key, st)
        for m in item.get("marks", ()):
            marks.append(RunMark(src.key, (m.t_ns - origin) / 1e9, m.text))
            if m.text == run_marks.WORKLOAD_END:
                self._workload_end[src.key] = (m.t_ns - origin) / 1e9

    def _new_alerts(self, src: _Source) -> list[RunAlert]:
        try:
            seq = src.alerts()
        except Exception:
            return []
        new = list(seq[src.alert_cursor :])
        src.alert_cursor += len(new)
        out = []
        for a in new:
            row = self.store.row_of(src.key, a.lifetime_id) if a.lifetime_id is not None else None
            out.append(RunAlert(src.key, a, row))
        return out

    def _new_samples(self, src: _Source) -> list[Sample]:
        new, src.pushed_samples[:] = list(src.pushed_samples), []
        try:
            seq = src.samples()
        except Exception:
            seq = ()
        fresh: list[Sample] = []
        for smp in reversed(seq):  # newest first; stop at what we already took
            if smp.t_ns <= src.last_sample_ns:
                break
            fresh.append(smp)
        new.extend(reversed(fresh))
        if new:
            src.last_sample_ns = max(src.last_sample_ns, max(s.t_ns for s in new))
        return new

    def _sample_block(self, samples: list[Sample]) -> SampleBlock:
        samples.sort(key=lambda s: s.t_ns)
        origin = self.origin_ns if self.origin_ns is not None else samples[0].t_ns
        return SampleBlock(
            t_s=np.array([(s.t_ns - origin) / 1e9 for s in samples]),
            rss_mib=np.array([s.rss_bytes / 1048576 for s in samples]),
            fds=np.array([s.fds for s in samples], np.float64),
            threads=np.array([s.threads for s in samples], np.float64),
            connections=np.array([s.connections for s in samples], np.float64),
            cpu=np.array([s.cpu_percent for s in samples], np.float64),
        )
