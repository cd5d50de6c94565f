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

from .reader import is_recording, open_recording, read_meta, snapshot_at
from .schema import SCHEMA_VERSION, RecordingError
from .writer import RecordingWriter, record_run, save_snapshot

__all__ = [
    "SCHEMA_VERSION",
    "RecordingError",
    "RecordingWriter",
    "is_recording",
    "open_recording",
    "read_meta",
    "record_run",
    "save_snapshot",
    "snapshot_at",
]
