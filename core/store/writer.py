"""Writing recordings: the incremental `RecordingWriter`, `record_run` and one-shot `save_snapshot`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from withscope.core.events import (
    FLAG_CLOSE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_MISSING,
    OUTCOME_BY_CODE,
    Alert,
    Mark,
    Sample,
    StreamStats,
)
from withscope.core.lifetime_table import LifetimeTable
from withscope.core.recorder import Batch, Recorder
from withscope.core.redact import redact_mapping, redact_text
from withscope.core.snapshot import RunSnapshot
from withscope.core.status import RunStatus

from .schema import (
    _DELETE_LIFETIME,
    _INSERT_ALERT,
    _INSERT_MARK,
    _INSERT_POINT,
    _INSERT_SAMPLE,
    _SET_META,
    _UPSERT_LIFETIME,
    _UPSERT_STREAM,
    DEFAULT_FLUSH_INTERVAL_S,
    RecordingError,
    Row,
    _create,
    _meta_rows,
    _stack,
    alert_row,
    executemany,
    lifetime_row,
    sample_row,
    stream_row,
)

log = logging.getLogger("withscope")

# ------------------------------------------------------------------------------ batch rows
_OUTCOME_VALUE = {code: outcome.value for code, outcome in OUTCOME_BY_CODE.items()}


def table_rows(table: LifetimeTable, ids: Iterable[int]) -> list[Row]:
    """`lifetime_row(table.get(lid))` for each of `ids` that is a lifetime, read straight off the
    table's columns (no `Lifetime` is built: at millions of lifetimes that was most of the cost of
    recording). Call under the recorder's lock (a subscriber runs under it). Each label is
    redacted once per call, however many rows share it."""
    strings, kinds, threads = table.strings, table.kinds, table.threads
    acquired, released, outcome, flags = table.acquired_ns, table.released_ns, table.outcome, table.flags
    kind, label, site, thread, task = table.kind, table.label, table.site, table.thread, table.task
    errors, stacks = table.errors, table.stacks
    values = _OUTCOME_VALUE
    size = len(outcome)
    labels: dict[int, str] = {}
    rows: list[Row] = []
    add = rows.append
    for lid in ids:
        if lid < 0 or lid >= size:
            continue
        code = outcome[lid]
        if code == OUT_MISSING:
            continue
        lab = label[lid]
        text = labels.get(lab)
        if text is None:
            text = labels[lab] = redact_text(strings[lab])
        st, tk, rel, fl = site[lid], task[lid], released[lid], flags[lid]
        err = errors.get(lid) if errors else None
        stack = stacks.get(lid) if stacks else None
        add((
            lid, kinds[kind[lid]], text, strings[st] if st else None, _stack(stack) if stack else None,
            threads[thread[lid]], strings[tk] if tk else None, acquired[lid], None if rel < 0 else rel,
            values[code], redact_text(err[0]) if err else None, err[1] if err else None,
            fl & FLAG_SUPPRESSED and 1, fl & FLAG_DECLARED and 1, fl & FLAG_CLOSE and 1,
        ))  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- the writer
_FLUSH = object()
_STOP = object()
# Back-pressure: rows queued and not yet written before `_put` waits for the writer thread. At
# SQLite's pace (a few hundred thousand rows/s) this is well under one commit interval of work,
# so what the recorder has drained is committed within about `flush_interval_s`, at any rate.
MAX_QUEUED_ROWS = 1 << 13
# Rows per `executemany`: the writer checks its commit deadline between chunks, so one large
# batch (a catch-up, a drain of a backlog) never holds a transaction open past the interval.
WRITE_CHUNK = 4096
# How long `finish` retries making the file self-contained while readers hold it open.
FINALISE_RETRY_S = 2.0


@dataclass(slots=True)
class _Op:
    sql: str
    rows: list[Row]


class RecordingWriter:
    """Writes one run to a recording file incrementally, from a background thread.

    Lifecycle::

        writer = RecordingWriter("run.db", target="class-cm/faulty", meta={"repeat": "1"})
        writer.attach(recorder)          # before or during the run
        ...                              # the recorder's drains are written as they happen
        writer.add_alerts(alerts)        # any thread; repeated alerts are written once
        writer.add_samples(samples)      # any thread; samples already written are skipped
        writer.finish("ok", None, end_ns)

    or ``with RecordingWriter(...) as writer:`` (exit finishes with ``ok``, ``error`` or
    ``cancelled`` unless ``finish`` was called).

    Why a thread: recorder subscribers run on the draining thread - the asyncio loop or the GUI
    timer, a child run's fold thread - so the callback only turns the batch into row tuples, read
    straight off the recorder's columns (`table_rows`, about a microsecond per lifetime), and puts
    them on a queue; the writer thread owns the SQLite connection, applies the rows
    with ``executemany`` (in chunks of `WRITE_CHUNK` rows) inside one open transaction and
    commits whenever it has caught up with the queue, and at least every ``flush_interval_s``
    while rows keep arriving. So everything drained is committed within about
    ``flush_interval_s`` whatever the event rate: the queue is bounded (`MAX_QUEUED_ROWS`) and a
    drain that would overfill it waits for the writer thread (back-pressure; with the recorder
    in lossless mode, which `attach` sets, it reaches the producers instead of dropping events).
    Disk stalls never reach the loop unless the writer falls that far behind. The file is in WAL
    mode, so readers never block the writer; ``finish`` makes it one file again when no reader
    holds it, and otherwise leaves a valid WAL-mode recording (never an error).

    Thread-safety: every public method may be called from any thread. Exceptions: the
    constructor raises `RecordingError` when the file cannot be created; a write failure later
    on is logged, stops the writing (the run itself goes on: observing never breaks the
    observed) and is raised as `RecordingError` by `finish()`. Not reusable: one writer, one run.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str,
        meta: dict[str, str] | None = None,
        *,
        t0_ns: int | None = None,
        wall_t0: float | None = None,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
    ) -> None:
        self.path = Path(path)
        self.target = target
        self.flush_interval_s = flush_interval_s
        self._t0_ns = t0_ns if t0_ns is not None else time.perf_counter_ns()
        self._wall_t0 = wall_t0 if wall_t0 is not None else time.time()
        self._t0_given = t0_ns is not None
        first_meta = _meta_rows(target, RunStatus.RUNNING, self._t0_ns, self._wall_t0, meta or {})
        conn = _create(self.path, lambda c: executemany(c, _SET_META, first_meta))
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            conn.close()
            raise RecordingError(self.path, f"cannot create the recording: {exc}") from None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        # Invariant: `_queued_rows` counts the rows put on `_queue` and not yet executed by the
        # writer thread (guarded by `_room`, which the writer thread notifies as it writes).
        self._room = threading.Condition(threading.Lock())
        self._queued_rows = 0
        self._was_lossless = False
        self._lock = threading.Lock()
        # Guarded by _lock: what has been queued already (dedupe, stream series offsets).
        self._alerts_seen: set[Alert] = set()
        self._sample_times: set[int] = set()
        self._marks_seen: set[Mark] = set()
        self._points_queued: dict[int, int] = {}
        self._dropped = 0
        self._recorder: Recorder | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._hooks: list[Callable[[], None]] = []  # more unsubscribes (record_run), called at the end
        self._finished = False
        self.commits = 0  # transactions committed so far (for tests and the status bar)
        self.error: str | None = None  # the write failure that stopped the writer, if any
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name=f"withscope-recording-{self.path.name}", daemon=True
        )
        self._thread.start()

    # ---------------------------------------------------------------------- producers
    def attach(self, recorder: Recorder) -> None:
        """Subscribe to `recorder`'s batches and write what it already holds.

        Takes the run's zero time from the recorder unless `t0_ns` was given. One recorder per
        writer; attaching a second one raises `RuntimeError`.
        """
        if self._recorder is not None:
            raise RuntimeError("this RecordingWriter is already attached to a recorder")
        if self._finished:
            raise RuntimeError("this RecordingWriter is finished")
        self._recorder = recorder
        self._was_lossless = recorder.lossless
        recorder.lossless = True  # a recording loses no event: a full buffer is back-pressure
        if not self._t0_given:
            self._t0_ns, self._wall_t0 = recorder.t0_ns, recorder.wall_t0
            self._put(_SET_META, [("t0_ns", str(self._t0_ns)), ("wall_t0", repr(self._wall_t0))])
        self._unsubscribe = recorder.subscribe(self._on_batch)
        # Catch up (reading drains; the batch reaches _on_batch too - upserts make that harmless).
        lifetimes = recorder.lifetimes()
        streams = recorder.streams()
        marks = recorder.marks()
        self._put(_UPSERT_LIFETIME, [lifetime_row(lt) for lt in lifetimes])
        self._queue_streams(streams)
        self.add_marks(marks)

    def _on_batch(self, batch: Batch) -> None:
        """Recorder subscriber (runs on the draining thread, under the recorder's lock)."""
        rec = self._recorder
        if rec is None or self._finished:
            return
        try:
            # A lifetime acquired and released within one batch is read (and written) once.
            ids = dict.fromkeys(batch.acquired + batch.released) if batch.released else batch.acquired
            self._put(_UPSERT_LIFETIME, table_rows(rec.table, ids))
            if batch.streams:
                self._queue_streams([st for lid in batch.streams if (st := rec.stream(lid)) is not None])
            if batch.marks:
                self.add_marks(batch.marks)
            if batch.dropped_total != self._dropped:
                self._dropped = batch.dropped_total
                self._put(_SET_META, [("dropped_events", str(batch.dropped_total))])
        except Exception:
            log.exception("withscope: could not queue a batch for %s", self.path)

    def _queue_streams(self, streams: Iterable[StreamStats]) -> None:
        summaries: list[Row] = []
        points: list[Row] = []
        with self._lock:
            for st in streams:
                summaries.append(stream_row(st))
                done = self._points_queued.get(st.lifetime_id, 0)
                points.extend((st.lifetime_id, t, c, b) for t, c, b in st.series[done:])
                self._points_queued[st.lifetime_id] = len(st.series)
        self._put(_UPSERT_STREAM, summaries)
        self._put(_INSERT_POINT, points)

    def add_alerts(self, alerts: Iterable[Alert]) -> None:
        """Write alerts not written before (an alert equal to a written one is skipped)."""
        with self._lock:
            new = [a for a in alerts if a not in self._alerts_seen]
            self._alerts_seen.update(new)
        self._put(_INSERT_ALERT, [alert_row(a) for a in new])

    def add_samples(self, samples: Iterable[Sample]) -> None:
        """Write samples not written before (same `t_ns`): pass the sampler's whole history freely."""
        with self._lock:
            seen = self._sample_times
            new = [x for x in samples if x.t_ns not in seen]
            seen.update(x.t_ns for x in new)
        self._put(_INSERT_SAMPLE, [sample_row(x) for x in new])

    def add_marks(self, marks: Iterable[Mark]) -> None:
        """Write marks not written before (the attached recorder's marks are written already)."""
        with self._lock:
            new = [m for m in marks if m not in self._marks_seen]
            self._marks_seen.update(new)
        self._put(_INSERT_MARK, [(m.t_ns, redact_text(m.text)) for m in new])

    def set_meta(self, options: dict[str, str]) -> None:
        """Replace the run's options (meta key ``options``)."""
        options = redact_mapping(options)  # errors of the cleanup are quoted here: no secret is stored
        self._put(_SET_META, [("options", json.dumps({str(k): str(v) for k, v in options.items()}, sort_keys=True))])

    def _put(self, sql: str, rows: list[Row]) -> None:
        """Queue rows for the writer thread; waits while `MAX_QUEUED_ROWS` are queued (unless the
        writer thread is gone or failed: then nothing waits for it)."""
        if not rows or self._finished:
            return
        with self._room:
            while (
                self._queued_rows >= MAX_QUEUED_ROWS
                and self.error is None
                and self._thread.is_alive()
                and threading.current_thread() is not self._thread
            ):
                self._room.wait(0.05)
            self._queued_rows += len(rows)
        self._queue.put(_Op(sql, rows))

    def _written(self, n: int) -> None:
        """The writer thread executed (or discarded) `n` queued rows."""
        with self._room:
            self._queued_rows -= n
            self._room.notify_all()

    # ------------------------------------------------------------------------ control
    def flush(self, timeout: float | None = 5.0) -> bool:
        """Commit everything queued so far. Returns False if that did not happen in `timeout`."""
        if self._finished or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put((_FLUSH, done))
        return done.wait(timeout)

    def finish(
        self, status: str = "ok", error: str | None = None, end_ns: int | None = None, *, timeout: float = 30.0
    ) -> None:
        """Write the last batch and the run's outcome, make the file self-contained, stop the thread.

        Drains the attached recorder once more and unsubscribes. Idempotent: later calls do nothing.
        Raises `RecordingError` when writing failed at any point of the run.
        """
        if self._finished:
            return
        rec = self._recorder
        if rec is not None:
            try:
                # The last drain reaches _on_batch; then remove rows whose acquisition was withdrawn
                # after they were written (a tracked resource whose `with` failed to enter).
                rec.drain()
                self._put(_DELETE_LIFETIME, [(lid,) for lid in self._withdrawn(rec)])
            except Exception:
                log.exception("withscope: final drain for %s failed", self.path)
            self._detach()
        self._unhook()
        end = end_ns if end_ns is not None else time.perf_counter_ns()
        rows: list[Row] = [("status", status), ("end_ns", str(end))]
        if error is not None:
            rows.append(("error", redact_text(error)))
        self._put(_SET_META, rows)
        self._finished = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RecordingError(self.path, f"the writer did not finish within {timeout:g} s")
        if self.error is not None:
            raise RecordingError(self.path, f"writing the recording failed: {self.error}")

    def _detach(self) -> None:
        """Stop following the recorder; when full it drops events again, as before `attach`."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._recorder is not None:
            self._recorder.lossless = self._was_lossless

    @staticmethod
    def _withdrawn(rec: Recorder) -> list[int]:
        """Ids whose acquisition the recorder withdrew, read off its outcome column (rows written
        for them are deleted; for an id never written the delete is a no-op). No per-id set is
        kept while recording: at ten million lifetimes that alone would take ~0.5 GB."""
        raw = rec.table.outcome.tobytes()
        missing = OUT_MISSING.to_bytes(1, "little", signed=True)
        out: list[int] = []
        i = raw.find(missing)
        while i >= 0:
            out.append(i)
            i = raw.find(missing, i + 1)
        return out

    async def afinish(self, status: str = "ok", error: str | None = None, end_ns: int | None = None) -> None:
        """`finish` for asyncio code: the final commit and checkpoint run in a worker thread, so the
        loop is never blocked by disk I/O. Same errors as `finish`."""
        import asyncio

        end = end_ns if end_ns is not None else time.perf_counter_ns()
        await asyncio.to_thread(self.finish, status, error, end)

    def close(self) -> None:
        """Stop without marking the run finished (status stays ``running``). Idempotent; never raises."""
        if self._finished:
            return
        self._detach()
        self._unhook()
        self._finished = True
        self._queue.put(_STOP)
        self._thread.join(30.0)

    def _unhook(self) -> None:
        hooks, self._hooks = self._hooks, []
        for unhook in hooks:
            try:
                unhook()
            except Exception:
                log.exception("withscope: detaching a recording hook failed")

    def finish_with(self, snapshot: RunSnapshot, *, timeout: float = 30.0) -> None:
        """Finish from a run's final snapshot: its time zero, options, alerts and samples (any not
        written yet), then `finish(snapshot.status, snapshot.error, snapshot.end_ns)`."""
        self._put(
            _SET_META,
            [("t0_ns", str(snapshot.t0_ns)), ("wall_t0", repr(snapshot.wall_t0)),
             ("dropped_events", str(snapshot.dropped_events))],
        )  # fmt: skip
        if snapshot.meta:
            self.set_meta(snapshot.meta)
        self.add_alerts(snapshot.alerts)
        self.add_samples(snapshot.samples)
        self.finish(snapshot.status, snapshot.error, snapshot.end_ns, timeout=timeout)

    async def afinish_with(self, snapshot: RunSnapshot) -> None:
        """`finish_with` for asyncio code (the final commit runs in a worker thread)."""
        import asyncio

        await asyncio.to_thread(self.finish_with, snapshot)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._finished:
            return
        if ev is None:
            self.finish("ok")
        elif isinstance(ev, Exception):
            self.finish("error", f"{type(ev).__name__}: {ev}")
        else:  # CancelledError, KeyboardInterrupt, SystemExit
            self.finish(RunStatus.CANCELLED, type(ev).__name__)

    # ------------------------------------------------------------------ writer thread
    def _run(self, conn: sqlite3.Connection) -> None:
        q = self._queue
        in_tx = False
        deadline = 0.0
        stopping = False
        waiters: list[threading.Event] = []
        try:
            while not stopping:
                timeout = max(0.0, deadline - time.monotonic()) if in_tx else None
                try:
                    item = q.get(timeout=timeout)
                except queue.Empty:
                    item = None
                if isinstance(item, _Op):
                    rows, sql = item.rows, item.sql
                    try:
                        for i in range(0, len(rows), WRITE_CHUNK):
                            if not in_tx:
                                conn.execute("BEGIN")
                                in_tx = True
                                deadline = time.monotonic() + self.flush_interval_s
                            executemany(conn, sql, rows[i : i + WRITE_CHUNK])
                            if time.monotonic() >= deadline:  # a long batch: commit on the cadence
                                conn.execute("COMMIT")
                                in_tx = False
                                self.commits += 1
                    finally:
                        self._written(len(rows))
                    # Commit when caught up with the queue (what was drained is on disk at once)
                    # or when the interval is over; else write the next batch in this transaction.
                    if not q.empty() and time.monotonic() < deadline:
                        continue
                elif item is _STOP:
                    stopping = True
                elif isinstance(item, tuple):
                    waiters.append(item[1])
                if in_tx:
                    conn.execute("COMMIT")
                    in_tx = False
                    self.commits += 1
                for w in waiters:
                    w.set()
                waiters.clear()
            if self.error is None:
                self._make_self_contained(conn)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("withscope: writing %s failed: %s", self.path, self.error)
            if not stopping:
                self._drain_after_failure(conn, in_tx)
        finally:
            for w in waiters:
                w.set()
            conn.close()

    def _make_self_contained(self, conn: sqlite3.Connection) -> None:
        """Fold the WAL back in and leave WAL mode, so the finished recording is one file.

        Everything, the run's outcome included, is committed before this. Leaving WAL mode needs
        the file to itself: a reader that has it open (a viewer polling the live recording) makes
        SQLite answer "database is locked". That is retried for `FINALISE_RETRY_S`; if a reader
        still holds the file, it stays a valid WAL-mode recording (the next open folds the WAL
        back in) and finishing succeeds: a reader never makes the writer fail.
        """
        conn.execute("PRAGMA busy_timeout = 50")  # each try is short; the loop bounds the wait
        deadline = time.monotonic() + FINALISE_RETRY_S
        delay = 0.005
        while True:
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()
                if mode is not None and str(mode[0]).lower() == "delete":
                    return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            if time.monotonic() >= deadline:
                log.info("withscope: %s is held open by a reader; it stays in WAL mode", self.path)
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _drain_after_failure(self, conn: sqlite3.Connection, in_tx: bool) -> None:
        with contextlib.suppress(sqlite3.Error):
            if in_tx:
                conn.execute("COMMIT")
        # Keep consuming (and discarding) so flush() and finish() callers are released.
        while True:
            item = self._queue.get()
            if isinstance(item, _Op):
                self._written(len(item.rows))
            elif isinstance(item, tuple):
                item[1].set()
            elif item is _STOP:
                return


class _Subscribable(Protocol):
    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]: ...


class RunLike(Protocol):
    """What `record_run` needs of a `withscope.core.runner.Run` (the store never imports the runner)."""

    @property
    def recorder(self) -> Recorder: ...
    @property
    def sampler(self) -> _Subscribable: ...
    @property
    def target(self) -> Any: ...  # has .name
    @property
    def t0_ns(self) -> int: ...
    @property
    def wall_t0(self) -> float: ...
    @property
    def meta(self) -> dict[str, str]: ...

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]: ...


def record_run(run: RunLike, path: str | os.PathLike[str], **options: Any) -> RecordingWriter:
    """Record a `Run` live: a writer attached to its recorder, its live alerts and its samples.

    Call before or right after ``run.start()``; when the run is over, ``await
    writer.afinish_with(await run.wait())`` (or `finish_with` from sync code). Raises
    `RecordingError` when the file cannot be created. `options` go to `RecordingWriter`.
    """
    writer = RecordingWriter(
        path, str(getattr(run.target, "name", run.target)), dict(run.meta), t0_ns=run.t0_ns, wall_t0=run.wall_t0,
        **options,
    )  # fmt: skip
    writer.attach(run.recorder)
    writer._hooks.append(run.subscribe(lambda change: writer.add_alerts(getattr(change, "new_alerts", ()))))
    writer._hooks.append(run.sampler.subscribe(lambda sample: writer.add_samples((sample,))))
    return writer


# ----------------------------------------------------------------------------- one-shot save
def save_snapshot(snapshot: RunSnapshot, path: str | os.PathLike[str]) -> None:
    """Write a whole run to a new recording, atomically: the file appears under `path` complete.

    An existing recording at `path` (or an empty file) is replaced unless another process is
    recording to it; anything else - a foreign file, a directory, a device, a FIFO - raises
    `RecordingError` and is left untouched.
    """
    dest = Path(path)

    def fill(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")
        first = _meta_rows(snapshot.target, snapshot.status, snapshot.t0_ns, snapshot.wall_t0, snapshot.meta)
        executemany(conn, _SET_META, first)
        extra: list[Row] = [("dropped_events", str(snapshot.dropped_events))]
        if snapshot.end_ns is not None:
            extra.append(("end_ns", str(snapshot.end_ns)))
        if snapshot.error is not None:
            extra.append(("error", redact_text(snapshot.error)))
        executemany(conn, _SET_META, extra)
        executemany(conn, _UPSERT_LIFETIME, [lifetime_row(lt) for lt in snapshot.lifetimes])
        executemany(conn, _INSERT_ALERT, [alert_row(a) for a in snapshot.alerts])
        executemany(conn, _INSERT_SAMPLE, [sample_row(s) for s in snapshot.samples])
        executemany(conn, _UPSERT_STREAM, [stream_row(st) for st in snapshot.streams])
        points = [(st.lifetime_id, t, c, b) for st in snapshot.streams for t, c, b in st.series]
        executemany(conn, _INSERT_POINT, points)
        executemany(conn, _INSERT_MARK, [(m.t_ns, redact_text(m.text)) for m in snapshot.marks])
        conn.execute("COMMIT")

    _create(dest, fill).close()
