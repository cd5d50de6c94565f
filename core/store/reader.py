"""Reading recordings back: `open_recording`, `read_meta`, `snapshot_at`, `is_recording`."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from withscope.core.events import Alert, Lifetime, LifetimeSequence, Mark, Outcome, Sample, Severity, StreamStats
from withscope.core.outputs import OutputError, not_a_file, read_head
from withscope.core.snapshot import RunSnapshot
from withscope.core.status import RunStatus

from .schema import (
    _SCHEMA,
    APPLICATION,
    APPLICATION_ID,
    COLUMNS,
    SCHEMA_VERSION,
    RecordingError,
    _is_recording_file,
    decode_text,
    storage_classes,
)

log = logging.getLogger("withscope")


# ------------------------------------------------------------------------------- reading
def _check_header(path: Path) -> None:
    """Clear errors for what SQLite would report vaguely (or not at all). Never blocks: a FIFO, a
    device or a directory is refused from `os.stat` alone, before anything is opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise RecordingError(path, "no such file") from None
    except OSError as exc:
        raise RecordingError(path, f"cannot read the file: {exc.strerror or exc}") from None
    what = not_a_file(st)
    if what is not None:
        raise RecordingError(path, f"is {what}, not a recording file")
    try:
        head = read_head(path, 100)
    except OutputError as exc:
        raise RecordingError(path, exc.problem) from None
    except OSError as exc:
        raise RecordingError(path, f"cannot read the file: {exc.strerror or exc}") from None
    size = st.st_size
    if size == 0:
        raise RecordingError(path, "the file is empty (the recording was never written)")
    if not head.startswith(b"SQLite format 3\0"):
        raise RecordingError(path, "not a withscope recording (not an SQLite database)")
    if len(head) < 100:
        raise RecordingError(path, f"the file is truncated ({size} bytes, shorter than an SQLite header)")
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages = struct.unpack(">I", head[28:32])[0]
    try:
        wal_st = os.stat(f"{path}-wal")
    except OSError:
        wal_size = 0
    else:
        if not_a_file(wal_st) is not None:
            raise RecordingError(path, f"its write-ahead log {path}-wal is {not_a_file(wal_st)}")
        wal_size = wal_st.st_size
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
    meta = {str(decode_text(k)): str(decode_text(v)) for k, v in conn.execute("SELECT key, value FROM meta")}
    if meta.get("application") != APPLICATION:
        raise RecordingError(path, "not a withscope recording (its meta table does not say withscope.recording)")
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    if app_id != APPLICATION_ID:
        raise RecordingError(path, f"not a withscope recording (its SQLite application id is {app_id:#x})")
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
    (user_version,) = conn.execute("PRAGMA user_version").fetchone()
    if user_version != int(version):
        raise RecordingError(
            path,
            f"the recording contradicts itself: its SQLite header says schema version {user_version}, its meta"
            f" table {version} (the file was altered or damaged)",
        )
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


def _check_types(conn: sqlite3.Connection, path: Path) -> set[str]:
    """Refuse a recording whose columns hold values of the wrong type (a text `acquired_ns`, say)
    with `RecordingError` naming the table, row and column. Returns the tables holding BLOB-stored
    text (strings without a UTF-8 form), whose text columns the reader must decode.

    One scan per table. Where a table's definition is withscope's own, SQLite's column affinity
    and constraints already rule out most types - an INTEGER PRIMARY KEY is always an integer, a
    TEXT column holds text, a BLOB or (where allowed) NULL - so only the rest is looked at
    (1 M lifetimes: ~0.5 s instead of ~2 s for every column)."""
    ddl = {name: _squash(sql) for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
    blob_tables: set[str] = set()
    for table, columns in COLUMNS.items():
        ours = ddl.get(table) == _OUR_DDL.get(table)
        suspect = [
            (name, spec) for name, spec in columns
            if not (ours and (spec.startswith("text") or name == _ROWID_ALIAS.get(table)))
        ]  # fmt: skip
        bad = " OR ".join(
            f"typeof({name}) NOT IN ({', '.join(repr(t) for t in storage_classes(spec))})" for name, spec in suspect
        )
        # `x >= x''` is true exactly for a BLOB (BLOBs sort after everything), and cheaper than typeof()
        blob = " OR ".join(f"{name} >= x''" for name, spec in columns if spec.startswith("text"))
        either = " OR ".join(f"({x})" for x in (bad, blob) if x)
        if not either or conn.execute(f"SELECT 1 FROM {table} WHERE {either} LIMIT 1").fetchone() is None:
            continue  # the common case: one scan, nothing found
        row = conn.execute(f"{_select(table)} WHERE {bad} LIMIT 1").fetchone() if bad else None
        if row is not None:
            for (name, spec), value in zip(columns, row, strict=True):
                kind = "null" if value is None else type(value).__name__
                if not any(type(value) is _PYTHON_TYPE[t] for t in storage_classes(spec)):
                    raise RecordingError(
                        path,
                        f"the recording holds invalid data: {table} row {columns[0][0]}={row[0]!r} has a {kind} in"
                        f" {name}, which holds {spec.rstrip('?')} values",
                    )
        if blob and conn.execute(f"SELECT 1 FROM {table} WHERE {blob} LIMIT 1").fetchone() is not None:
            blob_tables.add(table)
    return blob_tables


def _squash(sql: str | None) -> str:
    return " ".join((sql or "").split())


_PYTHON_TYPE: dict[str, type] = {"integer": int, "real": float, "text": str, "blob": bytes, "null": type(None)}
# The CREATE TABLE statements withscope writes, as sqlite_master keeps them (whitespace squashed).
_OUR_DDL = {
    stmt.split("(", 1)[0].split()[-1]: _squash(stmt) for stmt in (x.strip() for x in _SCHEMA.split(";")) if stmt
}
# In a rowid table an INTEGER PRIMARY KEY is the rowid itself: always an integer.
_ROWID_ALIAS = {"lifetimes": "id", "alerts": "seq", "samples": "t_ns", "streams": "lifetime_id", "marks": "seq"}


def _select(table: str) -> str:
    return f"SELECT {', '.join(name for name, _ in COLUMNS[table])} FROM {table}"


def _rows(conn: sqlite3.Connection, table: str, order: str, blob_tables: set[str]) -> Iterator[tuple[Any, ...]]:
    cursor = conn.execute(f"{_select(table)} ORDER BY {order}")
    if table not in blob_tables:
        return cursor
    return (tuple(decode_text(v) for v in r) for r in cursor)


def _lifetime(r: tuple[Any, ...]) -> Lifetime:
    return Lifetime(
        id=r[0], kind=r[1], label=r[2], site=r[3], stack=_decode_stack(r[4]), thread=r[5], task=r[6],
        acquired_ns=r[7], released_ns=r[8], outcome=Outcome(r[9]), error=r[10], error_type=r[11],
        suppressed=bool(r[12]), suppression_declared=bool(r[13]), released_by_close=bool(r[14]),
    )  # fmt: skip


LAZY_LIFETIMES = 20_000  # above this many lifetimes a recording's are read from the file when used


class RecordingLifetimes(LifetimeSequence):
    """A long recording's lifetimes, read from the file row by row whenever they are iterated (in
    id order), so exporting or replaying a recording takes memory independent of its length.

    Holds the rows with `id <= max_id` as the file was when it was opened (a recording still
    being written grows meanwhile; its later rows are not part of this snapshot). Reading a file
    that is gone or damaged since raises `RecordingError`.
    """

    __slots__ = ("_blob", "_count", "_max_id", "_path")

    def __init__(self, path: Path, count: int, max_id: int, blob: bool) -> None:
        self._path, self._count, self._max_id, self._blob = path, count, max_id, blob

    def __len__(self) -> int:
        return self._count

    def _query(self, tail: str, args: tuple[int, ...]) -> Iterator[Lifetime]:
        try:
            conn = _connect_for_reading(self._path)
        except sqlite3.Error as exc:
            raise RecordingError(self._path, _describe(exc)) from None
        try:
            cursor = conn.execute(f"{_select('lifetimes')} WHERE id <= ? ORDER BY id {tail}", (self._max_id, *args))
            for r in cursor:
                yield _lifetime(tuple(decode_text(v) for v in r) if self._blob else r)
        except sqlite3.Error as exc:
            raise RecordingError(self._path, _describe(exc)) from None
        finally:
            conn.close()

    def __iter__(self) -> Iterator[Lifetime]:
        return self._query("", ())

    @overload
    def __getitem__(self, i: int) -> Lifetime: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Lifetime, ...]: ...
    def __getitem__(self, i: int | slice) -> Lifetime | tuple[Lifetime, ...]:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._count)
            if step != 1:
                return tuple(self[j] for j in range(start, stop, step))
            return tuple(self._query("LIMIT ? OFFSET ?", (max(0, stop - start), start)))
        j = i + self._count if i < 0 else i
        if not 0 <= j < self._count:
            raise IndexError("lifetime index out of range")
        return next(self._query("LIMIT 1 OFFSET ?", (j,)))

    def __repr__(self) -> str:
        return f"<{self._count} lifetimes of {self._path}>"


def _read_lifetimes(conn: sqlite3.Connection, path: Path, blobs: set[str]) -> Sequence[Lifetime]:
    count, max_id = conn.execute("SELECT count(*), max(id) FROM lifetimes").fetchone()
    if count > LAZY_LIFETIMES:
        return RecordingLifetimes(path, count, max_id, "lifetimes" in blobs)
    return tuple(map(_lifetime, _rows(conn, "lifetimes", "id", blobs)))


def _read_snapshot(conn: sqlite3.Connection, meta: dict[str, str], path: Path) -> RunSnapshot:
    blobs = _check_types(conn, path)
    lifetimes = _read_lifetimes(conn, path, blobs)
    alerts = tuple(
        Alert(
            rule=r[1], severity=Severity(r[2]), message=r[3], hint=r[4], lifetime_id=r[5], site=r[6],
            stack=_decode_stack(r[7]), t_ns=r[8],
        )
        for r in _rows(conn, "alerts", "seq", blobs)
    )  # fmt: skip
    samples = tuple(Sample(*r) for r in _rows(conn, "samples", "t_ns", blobs))
    series: dict[int, list[tuple[int, int, int]]] = {}
    for lid, t, c, b in _rows(conn, "stream_points", "lifetime_id, t_ns", blobs):
        series.setdefault(lid, []).append((t, c, b))
    streams = tuple(
        StreamStats(
            lifetime_id=r[0], label=r[1], started_ns=r[2], first_chunk_ns=r[3], last_ns=r[4], ended=bool(r[5]),
            chunks=r[6], bytes=r[7], series=tuple(series.get(r[0], ())),
        )
        for r in _rows(conn, "streams", "lifetime_id", blobs)
    )  # fmt: skip
    marks = tuple(Mark(r[1], r[2]) for r in _rows(conn, "marks", "t_ns, seq", blobs))
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
        status=meta.get("status", RunStatus.RUNNING),
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
        status=RunStatus.RUNNING,
        error=None,
        end_ns=None,
        lifetimes=tuple(lifetimes),
        alerts=tuple(a for a in snapshot.alerts if a.t_ns is not None and a.t_ns <= t_ns),
        streams=tuple(streams),
        samples=tuple(x for x in snapshot.samples if x.t_ns <= t_ns),
        marks=tuple(m for m in snapshot.marks if m.t_ns <= t_ns),
    )


def is_recording(path: str | os.PathLike[str]) -> bool:
    """Cheap sniff: a regular SQLite file whose header carries withscope's application id (never blocks)."""
    return _is_recording_file(Path(path))

