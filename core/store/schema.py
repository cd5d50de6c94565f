"""Recording files: the schema, row encoding and file handling shared by the writer and the reader."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..events import Alert, Lifetime, Sample, StreamStats  # noqa: TID252
from ..redact import redact_mapping, redact_optional, redact_text  # noqa: TID252

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
        lt.id, lt.kind, redact_text(lt.label), lt.site, _stack(lt.stack), lt.thread, lt.task,
        lt.acquired_ns, lt.released_ns, lt.outcome.value, redact_optional(lt.error), lt.error_type, int(lt.suppressed),
        int(lt.suppression_declared), int(lt.released_by_close),
    )  # fmt: skip


def alert_row(a: Alert) -> Row:
    message, hint = redact_text(a.message), redact_text(a.hint)
    return (a.rule, a.severity.value, message, hint, a.lifetime_id, a.site, _stack(a.stack), a.t_ns)


def sample_row(s: Sample) -> Row:
    cpu = s.cpu_percent if math.isfinite(s.cpu_percent) else 0.0
    return (s.t_ns, s.rss_bytes, s.fds, s.threads, s.connections, cpu)


def stream_row(st: StreamStats) -> Row:
    label = redact_text(st.label)
    return (st.lifetime_id, label, st.started_ns, st.first_chunk_ns, st.last_ns, int(st.ended), st.chunks, st.bytes)


def _meta_rows(target: str, status: str, t0_ns: int, wall_t0: float, options: dict[str, str]) -> list[Row]:
    return [
        ("application", APPLICATION),
        ("schema_version", str(SCHEMA_VERSION)),
        ("target", redact_text(target)),
        ("status", status),
        ("t0_ns", str(t0_ns)),
        ("wall_t0", repr(wall_t0)),
        ("options", json.dumps({str(k): str(v) for k, v in redact_mapping(options).items()}, sort_keys=True)),
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


