"""Recording files: the schema, row encoding and file handling shared by the writer and the reader."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import sqlite3
import stat
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from withscope.core.events import Alert, Lifetime, Sample, StreamStats
from withscope.core.outputs import OutputError, check_output, not_a_file, read_head, same_file, temp_name
from withscope.core.redact import redact_mapping, redact_optional, redact_text

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

# The storage class each column may hold (`typeof()`): "int", "real", "text"; "?" also allows
# NULL. A "text" column may hold a BLOB: a string without a UTF-8 form (see `encode_text`). The
# reader refuses a recording whose rows break this, before any value reaches a reader.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "meta": (("key", "text"), ("value", "text")),
    "lifetimes": (
        ("id", "int"), ("kind", "text"), ("label", "text"), ("site", "text?"), ("stack", "text?"),
        ("thread", "text"), ("task", "text?"), ("acquired_ns", "int"), ("released_ns", "int?"), ("outcome", "text"),
        ("error", "text?"), ("error_type", "text?"), ("suppressed", "int"), ("suppression_declared", "int"),
        ("released_by_close", "int"),
    ),
    "alerts": (
        ("seq", "int"), ("rule", "text"), ("severity", "text"), ("message", "text"), ("hint", "text"),
        ("lifetime_id", "int?"), ("site", "text?"), ("stack", "text?"), ("t_ns", "int?"),
    ),
    "samples": (
        ("t_ns", "int"), ("rss_bytes", "int"), ("fds", "int"), ("threads", "int"), ("connections", "int"),
        ("cpu_percent", "real"),
    ),
    "streams": (
        ("lifetime_id", "int"), ("label", "text"), ("started_ns", "int"), ("first_chunk_ns", "int?"),
        ("last_ns", "int"), ("ended", "int"), ("chunks", "int"), ("bytes", "int"),
    ),
    "stream_points": (("lifetime_id", "int"), ("t_ns", "int"), ("chunks", "int"), ("bytes", "int")),
    "marks": (("seq", "int"), ("t_ns", "int"), ("text", "text")),
}  # fmt: skip
_STORAGE = {"int": ("integer",), "real": ("real", "integer"), "text": ("text", "blob")}


def storage_classes(spec: str) -> tuple[str, ...]:
    """The `typeof()` values a column of `spec` ("int", "text?", ...) may hold."""
    base = _STORAGE[spec.rstrip("?")]
    return (*base, "null") if spec.endswith("?") else base


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


# ------------------------------------------------------------------------- text values
# SQLite text is UTF-8, and a Python string with a lone surrogate (a label made from a non-UTF-8
# file name with `os.fsdecode`, an error quoting one) has no UTF-8 form. Such a value is stored
# as a BLOB of its "surrogatepass" bytes and read back to the very same string; every other
# string stays TEXT. Only a row that fails to bind pays for the conversion.
def encode_text(value: object) -> object:
    """`value` ready to bind: a string without a UTF-8 form becomes its surrogatepass bytes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return value


def decode_text(value: object) -> Any:
    """The inverse of `encode_text` for a text column (a BLOB there is such a string)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return value


def _encode_row(row: Row) -> Row:
    return tuple(encode_text(v) for v in row)


def executemany(conn: sqlite3.Connection, sql: str, rows: Sequence[Row]) -> None:
    """`conn.executemany(sql, rows)` that stores strings without a UTF-8 form (see `encode_text`).

    Binding fails at the first such row, before it is executed; the rows before it are done, so
    the rest are encoded and executed from there (each row runs exactly once).
    """
    try:
        conn.executemany(sql, rows)
    except UnicodeEncodeError:
        first = next(i for i, row in enumerate(rows) if _encode_row(row) != row)
        conn.executemany(sql, [_encode_row(row) for row in rows[first:]])


# ------------------------------------------------------------------------- file handling
def _has_application_id(head: bytes) -> bool:
    return (
        len(head) >= 100 and head.startswith(b"SQLite format 3\0") and head[68:72] == struct.pack(">I", APPLICATION_ID)
    )


def owns_recording(head: bytes) -> bool:
    """True when `head` (a file's first bytes) is an SQLite header carrying withscope's application id."""
    return _has_application_id(head)


def _is_recording_file(path: Path) -> bool:
    """True when `path` is a regular file whose SQLite header carries our application id.

    Never blocks: anything but a regular file (a FIFO, a device, a directory) is False unopened.
    """
    try:
        return _has_application_id(read_head(path, 100))
    except (OSError, OutputError):
        return False


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


def _remove_sidecars(path: Path) -> None:
    """The -wal, -shm and -journal files of `path` (never `path` itself)."""
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


class _LockedConnection(sqlite3.Connection):
    """A connection to a recording that this process writes: it holds an exclusive `flock` on
    the file (``lock_fd``) from before the file was visible under its name until `close`.

    The lock is advisory and independent of SQLite's own (POSIX record) locks: it says "a
    withscope writer owns this file", and the kernel drops it when the process dies (kill -9 too).
    """

    lock_fd = -1

    def close(self) -> None:
        try:
            super().close()
        finally:
            fd, self.lock_fd = self.lock_fd, -1
            if fd >= 0:
                os.close(fd)


_BUSY = "another withscope process is recording to this file; wait for it to finish or choose another name"


def check_recording_output(path: Path) -> Path:
    """Check that a recording may be created at `path`: nothing there, an empty regular file, or
    a withscope recording no other process is writing. Returns the file to replace (the target of
    a symbolic link). Raises `RecordingError` (one line) otherwise; never opens a non-regular file."""
    try:
        real = check_output(path, owns_recording, "withscope recording", probe=False)
    except OutputError as exc:
        where = "" if os.path.lexists(path) else "cannot create the recording: "
        raise RecordingError(path, f"{where}{exc.problem}") from None
    if real.exists() and _being_written(real):
        raise RecordingError(path, _BUSY)
    return real


def _being_written(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
    finally:
        os.close(fd)  # also drops the shared lock just taken


def _create(path: Path, fill: Callable[[sqlite3.Connection], None] | None = None) -> sqlite3.Connection:
    """A fresh recording database at `path`, holding its writer's lock (see `_LockedConnection`).

    The database (schema, application id, `meta` rows) is built under a temporary name and locked
    before it appears under `path`, so every process that finds it there finds it complete and
    locked; `fill(conn)` writes the first rows (in autocommit mode) before that. Nothing at
    `path`: it is linked in exclusively (of two processes starting at once, exactly one wins).
    A recording no one is writing (or an empty regular file) is replaced. Anything else - a
    directory, a device, a FIFO, a foreign file, a recording another process is writing - raises
    `RecordingError` and leaves `path` untouched.
    """
    real = check_recording_output(path)
    tmp = temp_name(real)
    installed = False
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise RecordingError(path, f"cannot create the recording: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new inode: never contended
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            if fill is not None:
                fill(conn)
        finally:
            conn.close()
        _install(tmp, real, path)
        installed = True
        final = sqlite3.connect(real, isolation_level=None, check_same_thread=False, factory=_LockedConnection)
    except RecordingError:
        os.close(fd)
        raise
    except (OSError, sqlite3.Error) as exc:
        os.close(fd)
        raise RecordingError(path, f"cannot create the recording: {exc}") from None
    finally:
        if not installed:
            _remove_db_files(tmp)
    assert isinstance(final, _LockedConnection)
    final.lock_fd = fd
    return final


def _install(tmp: Path, real: Path, shown: Path) -> None:
    """Move the locked, complete `tmp` to `real` (see `_create`); `shown` names it in errors."""
    while True:
        try:
            os.link(tmp, real)  # fails if anything is there: exclusive
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: rename, as exclusively as it gets
            if os.path.lexists(real):
                pass
            else:
                os.rename(tmp, real)
                return
        else:
            os.unlink(tmp)
            return
        # Something is there: replace it only if it is ours, or empty, and no writer holds it.
        try:
            ofd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue  # gone meanwhile: try the exclusive link again
        except OSError as exc:
            raise RecordingError(shown, f"cannot check the existing file: {exc.strerror or exc}") from None
        try:
            st = os.fstat(ofd)
            if not stat.S_ISREG(st.st_mode):
                raise RecordingError(shown, f"is {not_a_file(st)}; withscope writes only regular files")
            try:
                fcntl.flock(ofd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RecordingError(shown, _BUSY) from None
            try:
                now = os.lstat(real)
            except FileNotFoundError:
                continue
            if not same_file(now, st):
                continue  # replaced between our open and our lock: look again
            if st.st_size and not owns_recording(os.pread(ofd, 100, 0)):
                raise RecordingError(
                    shown, "exists and is not a withscope recording; refusing to overwrite it: remove it yourself"
                    " or give another name",
                )  # fmt: skip
            _remove_sidecars(real)  # a stale -wal must never be replayed into the new database
            os.replace(tmp, real)
            return
        finally:
            os.close(ofd)
