"""Recording files: one SQLite database per run, written incrementally, read back as a `RunSnapshot`.

Schema (version 1)
==================

A recording is an SQLite 3 database. ``PRAGMA application_id`` is ``0x77736370`` ("wscp") and
``PRAGMA user_version`` equals the schema version, but the ``meta`` table is authoritative.
Every time is an integer ``time.perf_counter_ns()`` value of the recording process; subtract
``meta.t0_ns`` for nanoseconds since the run started, and add ``meta.wall_t0`` (Unix seconds at
``t0_ns``) to put it on a calendar. Text columns are UTF-8; stacks are JSON arrays of strings
(innermost frame first) or NULL when empty.

``meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)``
    ``application``     always ``withscope.recording``
    ``schema_version``  ``1``; a reader refuses versions it does not know
    ``target``          what ran (catalogue name, ``file.py:function``, ...)
    ``status``          ``running`` (written at start; still there if the process died),
                        ``ok``, ``error`` or ``cancelled`` (written by ``finish``)
    ``error``           the run's error text, absent when none
    ``t0_ns``           perf_counter_ns at the start of the run (the zero of every time)
    ``wall_t0``         Unix time at ``t0_ns`` (float, ``repr``)
    ``end_ns``          perf_counter_ns at the end of the run; absent while running
    ``options``         JSON object of strings: the run's options (repeat, timeout, db, python, ...)
    ``dropped_events``  events the recorder lost because its buffer was full (integer)
    ``created_wall``    Unix time the file was created; ``withscope_version`` of the writer

``lifetimes`` - one row per resource, inserted at acquire and updated at release
    ``id INTEGER PRIMARY KEY`` (the recorder's lifetime id), ``kind``, ``label``, ``site`` (NULL:
    unknown), ``stack`` (JSON), ``thread``, ``task`` (NULL: none), ``acquired_ns``,
    ``released_ns`` (NULL: open), ``outcome`` (``open``, ``released``, ``released-with-error``,
    ``exit-raised``, ``gc``), ``error``, ``error_type``, ``suppressed``, ``suppression_declared``,
    ``released_by_close`` (0/1).

``alerts`` - findings of the leak rules, in the order they were raised
    ``seq INTEGER PRIMARY KEY``, ``rule``, ``severity`` (``info``/``warning``/``critical``),
    ``message``, ``hint``, ``lifetime_id`` (NULL: the alert concerns no single lifetime),
    ``site``, ``stack`` (JSON), ``t_ns`` (NULL: unknown).

``samples`` - process metrics from the sampler
    ``t_ns INTEGER PRIMARY KEY``, ``rss_bytes``, ``fds``, ``threads``, ``connections``,
    ``cpu_percent`` (REAL).

``streams`` - one summary row per tracked stream (a stream is also a lifetime of kind ``stream``)
    ``lifetime_id INTEGER PRIMARY KEY``, ``label``, ``started_ns``, ``first_chunk_ns`` (NULL: no
    chunk yet), ``last_ns``, ``ended`` (0/1), ``chunks``, ``bytes``.

``stream_points`` - the cumulative series of each stream
    ``(lifetime_id, t_ns)`` primary key, ``chunks``, ``bytes`` (both cumulative since the start).

``marks`` - named points in time (a run or a repeat started/ended)
    ``seq INTEGER PRIMARY KEY``, ``t_ns``, ``text``.

Durability
==========

The writer uses ``journal_mode=WAL`` with ``synchronous=NORMAL``: a commit appends to the
``-wal`` file without waiting for the disk, so the periodic flush is cheap, and a process killed
at any moment (even ``kill -9``) leaves every committed row readable - the next open replays the
WAL. (Power loss may lose the last commits, never corrupt the file.) While a recording is open
or after a crash it is two files, ``run.db`` and ``run.db-wal``: copy both, or open it once (which
folds the WAL back in). ``finish()`` checkpoints and switches to ``journal_mode=DELETE``, so a
finished recording is one self-contained file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import queue
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from .events import OUT_MISSING, Alert, Lifetime, Mark, Outcome, Sample, Severity, StreamStats
from .recorder import Batch, Recorder
from .snapshot import RunSnapshot

log = logging.getLogger("withscope")

SCHEMA_VERSION = 1
APPLICATION = "withscope.recording"
APPLICATION_ID = 0x77736370  # "wscp"
DEFAULT_FLUSH_INTERVAL_S = 0.25

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE lifetimes (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    site TEXT,
    stack TEXT,
    thread TEXT NOT NULL,
    task TEXT,
    acquired_ns INTEGER NOT NULL,
    released_ns INTEGER,
    outcome TEXT NOT NULL,
    error TEXT,
    error_type TEXT,
    suppressed INTEGER NOT NULL DEFAULT 0,
    suppression_declared INTEGER NOT NULL DEFAULT 0,
    released_by_close INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    hint TEXT NOT NULL,
    lifetime_id INTEGER,
    site TEXT,
    stack TEXT,
    t_ns INTEGER
);
CREATE TABLE samples (
    t_ns INTEGER PRIMARY KEY,
    rss_bytes INTEGER NOT NULL,
    fds INTEGER NOT NULL,
    threads INTEGER NOT NULL,
    connections INTEGER NOT NULL,
    cpu_percent REAL NOT NULL
);
CREATE TABLE streams (
    lifetime_id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    first_chunk_ns INTEGER,
    last_ns INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE stream_points (
    lifetime_id INTEGER NOT NULL,
    t_ns INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (lifetime_id, t_ns)
) WITHOUT ROWID;
CREATE TABLE marks (seq INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, text TEXT NOT NULL);
"""

# A released row is final: an upsert never turns it back into an open one (a late, stale
# "still open" read of the recorder must not undo a release already written).
_UPSERT_LIFETIME = """
INSERT INTO lifetimes (id, kind, label, site, stack, thread, task, acquired_ns, released_ns, outcome,
                       error, error_type, suppressed, suppression_declared, released_by_close)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    released_ns = excluded.released_ns, outcome = excluded.outcome, error = excluded.error,
    error_type = excluded.error_type, suppressed = excluded.suppressed,
    suppression_declared = excluded.suppression_declared, released_by_close = excluded.released_by_close
WHERE excluded.outcome <> 'open'
"""
_INSERT_ALERT = (
    "INSERT INTO alerts (rule, severity, message, hint, lifetime_id, site, stack, t_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SAMPLE = "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?)"
_UPSERT_STREAM = """
INSERT INTO streams VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(lifetime_id) DO UPDATE SET
    first_chunk_ns = excluded.first_chunk_ns, last_ns = excluded.last_ns, ended = excluded.ended,
    chunks = excluded.chunks, bytes = excluded.bytes
WHERE excluded.last_ns >= streams.last_ns AND NOT streams.ended
"""
_INSERT_POINT = "INSERT OR IGNORE INTO stream_points VALUES (?, ?, ?, ?)"
_INSERT_MARK = "INSERT INTO marks (t_ns, text) VALUES (?, ?)"
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"
_DELETE_LIFETIME = "DELETE FROM lifetimes WHERE id = ?"

Row = tuple[Any, ...]


class RecordingError(Exception):
    """A recording cannot be read or written. The message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --------------------------------------------------------------------------- row encoding
def _stack(stack: Sequence[str]) -> str | None:
    return json.dumps(list(stack)) if stack else None


def lifetime_row(lt: Lifetime) -> Row:
    return (
        lt.id, lt.kind, lt.label, lt.site, _stack(lt.stack), lt.thread, lt.task, lt.acquired_ns,
        lt.released_ns, lt.outcome.value, lt.error, lt.error_type, int(lt.suppressed),
        int(lt.suppression_declared), int(lt.released_by_close),
    )  # fmt: skip


def alert_row(a: Alert) -> Row:
    return (a.rule, a.severity.value, a.message, a.hint, a.lifetime_id, a.site, _stack(a.stack), a.t_ns)


def sample_row(s: Sample) -> Row:
    cpu = s.cpu_percent if math.isfinite(s.cpu_percent) else 0.0
    return (s.t_ns, s.rss_bytes, s.fds, s.threads, s.connections, cpu)


def stream_row(st: StreamStats) -> Row:
    return (st.lifetime_id, st.label, st.started_ns, st.first_chunk_ns, st.last_ns, int(st.ended), st.chunks, st.bytes)


def _meta_rows(target: str, status: str, t0_ns: int, wall_t0: float, options: dict[str, str]) -> list[Row]:
    return [
        ("application", APPLICATION),
        ("schema_version", str(SCHEMA_VERSION)),
        ("target", target),
        ("status", status),
        ("t0_ns", str(t0_ns)),
        ("wall_t0", repr(wall_t0)),
        ("options", json.dumps({str(k): str(v) for k, v in options.items()}, sort_keys=True)),
        ("dropped_events", "0"),
        ("created_wall", repr(time.time())),
        ("withscope_version", _version()),
    ]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("withscope")
    except Exception:
        return "unknown"


# ------------------------------------------------------------------------- file handling
def _is_recording_file(path: Path) -> bool:
    """True when `path` is an empty file or an SQLite file carrying our application id."""
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except OSError:
        return False
    if not head:
        return True
    return (
        len(head) == 100 and head.startswith(b"SQLite format 3\0") and head[68:72] == struct.pack(">I", APPLICATION_ID)
    )


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


def _create(path: Path) -> sqlite3.Connection:
    """A fresh recording database at `path` (an existing recording there is replaced)."""
    if path.is_dir():
        raise RecordingError(path, "is a directory; give a file name such as run.withscope.db")
    if path.exists() and not _is_recording_file(path):
        raise RecordingError(path, "exists and is not a withscope recording; refusing to overwrite it")
    try:
        _remove_db_files(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise RecordingError(path, f"cannot create the recording: {exc}") from None
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        conn.close()
        raise RecordingError(path, f"cannot create the recording: {exc}") from None
    return conn


# ----------------------------------------------------------------------------- the writer
_FLUSH = object()
_STOP = object()


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
    timer - so the callback only turns the batch into row tuples and puts them on a queue (a few
    microseconds per lifetime); the writer thread owns the SQLite connection, applies the rows
    with ``executemany`` inside one open transaction and commits at least every
    ``flush_interval_s`` while rows arrive. Disk stalls never reach the loop.

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
        conn = _create(self.path)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executemany(_SET_META, _meta_rows(target, "running", self._t0_ns, self._wall_t0, meta or {}))
        except sqlite3.Error as exc:
            conn.close()
            raise RecordingError(self.path, f"cannot create the recording: {exc}") from None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Guarded by _lock: what has been queued already (dedupe, stream series offsets).
        self._alerts_seen: set[Alert] = set()
        self._sample_times: set[int] = set()
        self._marks_seen: set[Mark] = set()
        self._points_queued: dict[int, int] = {}
        self._written_ids: set[int] = set()  # lifetime ids queued (only the draining thread adds)
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
        if not self._t0_given:
            self._t0_ns, self._wall_t0 = recorder.t0_ns, recorder.wall_t0
            self._put(_SET_META, [("t0_ns", str(self._t0_ns)), ("wall_t0", repr(self._wall_t0))])
        self._unsubscribe = recorder.subscribe(self._on_batch)
        # Catch up (reading drains; the batch reaches _on_batch too - upserts make that harmless).
        lifetimes = recorder.lifetimes()
        streams = recorder.streams()
        marks = recorder.marks()
        self._written_ids.update(lt.id for lt in lifetimes)
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
            rows = [lifetime_row(lt) for lid in ids if (lt := rec.lifetime(lid)) is not None]
            self._written_ids.update(batch.acquired)
            self._put(_UPSERT_LIFETIME, rows)
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
        self._put(_INSERT_MARK, [(m.t_ns, m.text) for m in new])

    def set_meta(self, options: dict[str, str]) -> None:
        """Replace the run's options (meta key ``options``)."""
        self._put(_SET_META, [("options", json.dumps({str(k): str(v) for k, v in options.items()}, sort_keys=True))])

    def _put(self, sql: str, rows: list[Row]) -> None:
        if rows and not self._finished:
            self._queue.put(_Op(sql, rows))

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
            if self._unsubscribe is not None:
                self._unsubscribe()
        self._unhook()
        end = end_ns if end_ns is not None else time.perf_counter_ns()
        rows: list[Row] = [("status", status), ("end_ns", str(end))]
        if error is not None:
            rows.append(("error", error))
        self._put(_SET_META, rows)
        self._finished = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RecordingError(self.path, f"the writer did not finish within {timeout:g} s")
        if self.error is not None:
            raise RecordingError(self.path, f"writing the recording failed: {self.error}")

    def _withdrawn(self, rec: Recorder) -> list[int]:
        """Written ids whose acquisition the recorder has since withdrawn (read off its outcome column)."""
        outcome = rec.table.outcome
        n = len(outcome)
        return [lid for lid in self._written_ids if lid < n and outcome[lid] == OUT_MISSING]

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
        if self._unsubscribe is not None:
            self._unsubscribe()
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
            self.finish("cancelled", type(ev).__name__)

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
                    if self.error is None:
                        if not in_tx:
                            conn.execute("BEGIN")
                            in_tx = True
                            deadline = time.monotonic() + self.flush_interval_s
                        conn.executemany(item.sql, item.rows)
                    if time.monotonic() < deadline:
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
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")

    def _drain_after_failure(self, conn: sqlite3.Connection, in_tx: bool) -> None:
        with contextlib.suppress(sqlite3.Error):
            if in_tx:
                conn.execute("COMMIT")
        # Keep consuming (and discarding) so flush() and finish() callers are released.
        while True:
            item = self._queue.get()
            if isinstance(item, tuple):
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
    """Write a whole run to a new recording in one transaction (atomic: temp file + rename).

    An existing recording at `path` is replaced; any other existing file raises `RecordingError`.
    """
    dest = Path(path)
    if dest.exists() and not dest.is_dir() and not _is_recording_file(dest):
        raise RecordingError(dest, "exists and is not a withscope recording; refusing to overwrite it")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    conn = _create(tmp)
    try:
        with conn:
            conn.execute("BEGIN")
            conn.executemany(
                _SET_META, _meta_rows(snapshot.target, snapshot.status, snapshot.t0_ns, snapshot.wall_t0, snapshot.meta)
            )
            extra: list[Row] = [("dropped_events", str(snapshot.dropped_events))]
            if snapshot.end_ns is not None:
                extra.append(("end_ns", str(snapshot.end_ns)))
            if snapshot.error is not None:
                extra.append(("error", snapshot.error))
            conn.executemany(_SET_META, extra)
            conn.executemany(_UPSERT_LIFETIME, [lifetime_row(lt) for lt in snapshot.lifetimes])
            conn.executemany(_INSERT_ALERT, [alert_row(a) for a in snapshot.alerts])
            conn.executemany(_INSERT_SAMPLE, [sample_row(s) for s in snapshot.samples])
            conn.executemany(_UPSERT_STREAM, [stream_row(st) for st in snapshot.streams])
            conn.executemany(
                _INSERT_POINT, [(st.lifetime_id, t, c, b) for st in snapshot.streams for t, c, b in st.series]
            )
            conn.executemany(_INSERT_MARK, [(m.t_ns, m.text) for m in snapshot.marks])
        conn.close()
        os.replace(tmp, dest)
    except (OSError, sqlite3.Error) as exc:
        conn.close()
        _remove_db_files(tmp)
        raise RecordingError(dest, f"cannot save the recording: {exc}") from None


# ------------------------------------------------------------------------------- reading
def _check_header(path: Path) -> None:
    """Clear errors for what SQLite would report vaguely (or not at all)."""
    if not path.exists():
        raise RecordingError(path, "no such file")
    if path.is_dir():
        raise RecordingError(path, "is a directory, not a recording file")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise RecordingError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if size == 0:
        raise RecordingError(path, "the file is empty (the recording was never written)")
    if not head.startswith(b"SQLite format 3\0"):
        raise RecordingError(path, "not a withscope recording (not an SQLite database)")
    if len(head) < 100:
        raise RecordingError(path, f"the file is truncated ({size} bytes, shorter than an SQLite header)")
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages = struct.unpack(">I", head[28:32])[0]
    wal = Path(f"{path}-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    # The header's page count is trustworthy when it was written together with the change counter.
    valid_for = head[92:96] == head[24:28]
    if valid_for and wal_size == 0 and pages and size < pages * page_size:
        raise RecordingError(
            path, f"the file is truncated ({size} bytes, but its header says {pages * page_size} bytes)"
        )


def _connect_for_reading(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri()
    try:
        # Read-write (never create): opening may need to replay the WAL left by a killed writer.
        return sqlite3.connect(f"{uri}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error:
        pass
    try:
        return sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise RecordingError(path, f"cannot open the recording: {exc}") from None


def _decode_stack(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError("a stack is not a JSON array")
    return tuple(str(v) for v in value)


def read_meta(path: str | os.PathLike[str]) -> dict[str, str]:
    """The raw ``meta`` table of a recording (cheap: no other table is read)."""
    p = Path(path)
    _check_header(p)
    conn = _connect_for_reading(p)
    try:
        return _read_meta(conn, p)
    except sqlite3.Error as exc:
        raise RecordingError(p, _describe(exc)) from None
    finally:
        conn.close()


def _read_meta(conn: sqlite3.Connection, path: Path) -> dict[str, str]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        raise RecordingError(path, "not a withscope recording (an SQLite database without a meta table)")
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    if meta.get("application") != APPLICATION:
        raise RecordingError(path, "not a withscope recording (its meta table does not say withscope.recording)")
    version = meta.get("schema_version", "")
    if not version.isdigit():
        raise RecordingError(path, f"the recording has no valid schema version ({version!r})")
    if int(version) > SCHEMA_VERSION:
        raise RecordingError(
            path,
            f"the recording has schema version {version}, newer than this withscope reads ({SCHEMA_VERSION});"
            " upgrade withscope",
        )
    if int(version) < 1:
        raise RecordingError(path, f"unsupported schema version {version}")
    missing = {"lifetimes", "alerts", "samples", "streams", "stream_points", "marks"} - tables
    if missing:
        raise RecordingError(path, f"the recording is incomplete: missing table(s) {', '.join(sorted(missing))}")
    return meta


def _describe(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"the recording is corrupt or truncated ({text})"
    return f"cannot read the recording ({type(exc).__name__}: {text})"


def open_recording(path: str | os.PathLike[str]) -> RunSnapshot:
    """Read a recording (finished, still being written, or left by a killed process) as a snapshot.

    `snapshot.meta` holds the run's options plus ``schema_version``, ``withscope_version`` and
    ``recording`` (the path). A run whose writer never finished has status ``running`` and
    ``end_ns`` None. Raises `RecordingError` - naming the file and the problem - for a missing,
    empty, non-SQLite, foreign, corrupt, truncated or newer-version file; never a raw sqlite3 error.
    """
    p = Path(path)
    _check_header(p)
    conn = _connect_for_reading(p)
    try:
        conn.execute("BEGIN")  # one consistent read, even while a writer is appending
        meta = _read_meta(conn, p)
        check = conn.execute("PRAGMA quick_check(1)").fetchone()
        if check is None or check[0] != "ok":
            detail = " ".join(ln for ln in str(check and check[0]).splitlines() if not ln.startswith("***"))
            raise RecordingError(p, f"the recording is corrupt or truncated (integrity check: {detail})")
        snapshot = _read_snapshot(conn, meta, p)
        conn.execute("COMMIT")
        return snapshot
    except sqlite3.Error as exc:
        raise RecordingError(p, _describe(exc)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingError(p, f"the recording holds invalid data ({type(exc).__name__}: {exc})") from None
    finally:
        conn.close()


def _read_snapshot(conn: sqlite3.Connection, meta: dict[str, str], path: Path) -> RunSnapshot:
    lifetimes = tuple(
        Lifetime(
            id=r[0], kind=r[1], label=r[2], site=r[3], stack=_decode_stack(r[4]), thread=r[5], task=r[6],
            acquired_ns=r[7], released_ns=r[8], outcome=Outcome(r[9]), error=r[10], error_type=r[11],
            suppressed=bool(r[12]), suppression_declared=bool(r[13]), released_by_close=bool(r[14]),
        )
        for r in conn.execute("SELECT * FROM lifetimes ORDER BY id")
    )  # fmt: skip
    alerts = tuple(
        Alert(
            rule=r[0], severity=Severity(r[1]), message=r[2], hint=r[3], lifetime_id=r[4], site=r[5],
            stack=_decode_stack(r[6]), t_ns=r[7],
        )
        for r in conn.execute(
            "SELECT rule, severity, message, hint, lifetime_id, site, stack, t_ns FROM alerts ORDER BY seq"
        )
    )  # fmt: skip
    samples = tuple(Sample(*r) for r in conn.execute("SELECT * FROM samples ORDER BY t_ns"))
    series: dict[int, list[tuple[int, int, int]]] = {}
    for lid, t, c, b in conn.execute("SELECT * FROM stream_points ORDER BY lifetime_id, t_ns"):
        series.setdefault(lid, []).append((t, c, b))
    streams = tuple(
        StreamStats(
            lifetime_id=r[0], label=r[1], started_ns=r[2], first_chunk_ns=r[3], last_ns=r[4], ended=bool(r[5]),
            chunks=r[6], bytes=r[7], series=tuple(series.get(r[0], ())),
        )
        for r in conn.execute("SELECT * FROM streams ORDER BY lifetime_id")
    )  # fmt: skip
    marks = tuple(Mark(t, text) for t, text in conn.execute("SELECT t_ns, text FROM marks ORDER BY t_ns, seq"))
    options = json.loads(meta.get("options", "{}"))
    if not isinstance(options, dict):
        raise ValueError("meta 'options' is not a JSON object")
    extra = {str(k): str(v) for k, v in options.items()}
    extra.update(
        schema_version=meta["schema_version"],
        withscope_version=meta.get("withscope_version", "unknown"),
        recording=str(path),
    )
    end = meta.get("end_ns")
    return RunSnapshot(
        target=meta.get("target", ""),
        status=meta.get("status", "running"),
        error=meta.get("error"),
        t0_ns=int(meta["t0_ns"]),
        wall_t0=float(meta["wall_t0"]),
        end_ns=int(end) if end else None,
        lifetimes=lifetimes,
        alerts=alerts,
        streams=streams,
        samples=samples,
        marks=marks,
        dropped_events=int(meta.get("dropped_events", "0")),
        meta=extra,
    )


def snapshot_at(snapshot: RunSnapshot, t_ns: int) -> RunSnapshot:
    """The run as it looked at `t_ns` (for replay's time slider): a pure function.

    Lifetimes acquired later are left out, ones released later are open again; alerts, samples,
    marks and stream points after `t_ns` are dropped (an alert without a time belongs to the
    end). Before the run's end the status is ``running`` and `end_ns` None.
    """
    end = snapshot.end_ns
    if end is not None and t_ns >= end:
        return snapshot
    lifetimes: list[Lifetime] = []
    released_by: dict[int, int | None] = {}
    for lt in snapshot.lifetimes:
        if lt.acquired_ns > t_ns:
            continue
        if lt.released_ns is not None and lt.released_ns > t_ns:
            lt = dataclasses.replace(
                lt, released_ns=None, outcome=Outcome.OPEN, error=None, error_type=None, suppressed=False,
                suppression_declared=False, released_by_close=False,
            )  # fmt: skip
        released_by[lt.id] = lt.released_ns
        lifetimes.append(lt)
    streams: list[StreamStats] = []
    for st in snapshot.streams:
        if st.started_ns > t_ns:
            continue
        series = tuple(p for p in st.series if p[0] <= t_ns)
        last = series[-1] if series else (st.started_ns, 0, 0)
        first = st.first_chunk_ns if st.first_chunk_ns is not None and st.first_chunk_ns <= t_ns else None
        streams.append(
            dataclasses.replace(
                st, series=series, chunks=last[1], bytes=last[2], first_chunk_ns=first,
                last_ns=max(st.started_ns, last[0]), ended=st.ended and released_by.get(st.lifetime_id) is not None,
            )
        )  # fmt: skip
    return dataclasses.replace(
        snapshot,
        status="running",
        error=None,
        end_ns=None,
        lifetimes=tuple(lifetimes),
        alerts=tuple(a for a in snapshot.alerts if a.t_ns is not None and a.t_ns <= t_ns),
        streams=tuple(streams),
        samples=tuple(x for x in snapshot.samples if x.t_ns <= t_ns),
        marks=tuple(m for m in snapshot.marks if m.t_ns <= t_ns),
    )


def is_recording(path: str | os.PathLike[str]) -> bool:
    """Cheap sniff: an SQLite file whose header carries withscope's application id."""
    p = Path(path)
    return p.is_file() and p.stat().st_size > 0 and _is_recording_file(p)
