"""A bad recording file gives a RecordingError naming the file and the problem, never a raw sqlite3 error."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import RecordingError, open_recording, read_meta, save_snapshot


def _open_fails(path: Path, problem: str) -> RecordingError:
    with pytest.raises(RecordingError) as info:
        open_recording(path)
    err = info.value
    assert str(path) in str(err)
    assert problem in err.problem, err.problem
    # no sqlite3 traceback attached: nothing chained, or the chain suppressed
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__
    return err


def _sqlite(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path)
    for stmt in sql:
        conn.execute(stmt)
    conn.commit()
    conn.close()


def test_missing_empty_and_directory(tmp_path: Path) -> None:
    _open_fails(tmp_path / "nope.db", "no such file")
    (tmp_path / "empty.db").write_bytes(b"")
    _open_fails(tmp_path / "empty.db", "empty")
    _open_fails(tmp_path, "is a directory")
    assert not (tmp_path / "nope.db").exists()  # opening never creates a file


def test_not_sqlite(tmp_path: Path) -> None:
    p = tmp_path / "notes.db"
    p.write_text("hello, I am a text file\n" * 20)
    _open_fails(p, "not an SQLite database")


def test_foreign_sqlite_database(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    _sqlite(p, "CREATE TABLE people (name TEXT)")
    _open_fails(p, "without a meta table")
    q = tmp_path / "other-meta.db"
    _sqlite(q, "CREATE TABLE meta (key TEXT, value TEXT)", "INSERT INTO meta VALUES ('app', 'x')")
    _open_fails(q, "does not say withscope.recording")


def _edit_meta(path: Path, key: str, value: str | None) -> None:
    if value is None:
        _sqlite(path, f"DELETE FROM meta WHERE key = '{key}'")
    else:
        _sqlite(path, f"UPDATE meta SET value = '{value}' WHERE key = '{key}'")


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("schema_version", "2", "schema version 2, newer than this withscope reads (1)"),
        ("schema_version", "0", "unsupported schema version 0"),
        ("schema_version", None, "no valid schema version"),
        ("t0_ns", "soon", "invalid data"),
        ("options", "[1, 2]", "invalid data"),
    ],
)
def test_wrong_version_or_bad_meta(
    tmp_path: Path, full_snapshot: RunSnapshot, key: str, value: str | None, problem: str
) -> None:
    p = tmp_path / "run.db"
    save_snapshot(full_snapshot, p)
    _edit_meta(p, key, value)
    _open_fails(p, problem)


def test_missing_table_and_bad_enum(tmp_path: Path, full_snapshot: RunSnapshot) -> None:
    p = tmp_path / "run.db"
    save_snapshot(full_snapshot, p)
    _sqlite(p, "DROP TABLE samples")
    _open_fails(p, "missing table(s) samples")
    q = tmp_path / "run2.db"
    save_snapshot(full_snapshot, q)
    _sqlite(q, "UPDATE lifetimes SET outcome = 'vanished' WHERE id = 0")
    _open_fails(q, "invalid data")


def _grow(full: RunSnapshot) -> RunSnapshot:
    """A recording of several pages, so truncation and corruption hit real data."""
    from dataclasses import replace

    from withscope.core.events import Lifetime

    extra = tuple(replace(full.lifetimes[0], id=i, label=f"conn {i} " + "x" * 200) for i in range(10, 400))
    lts: tuple[Lifetime, ...] = (*full.lifetimes, *extra)
    return replace(full, lifetimes=lts)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.9])
def test_truncated_file(tmp_path: Path, full_snapshot: RunSnapshot, fraction: float) -> None:
    p = tmp_path / "run.db"
    save_snapshot(_grow(full_snapshot), p)
    data = p.read_bytes()
    p.write_bytes(data[: max(100, int(len(data) * fraction))])
    _open_fails(p, "truncated")


def _corrupt_at(offset: int) -> Callable[[bytearray], None]:
    def corrupt(data: bytearray) -> None:
        data[offset : offset + 512] = bytes(range(256)) * 2

    return corrupt


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_corrupt_pages(tmp_path: Path, full_snapshot: RunSnapshot, where: float) -> None:
    p = tmp_path / "run.db"
    save_snapshot(_grow(full_snapshot), p)
    data = bytearray(p.read_bytes())
    page = 4096
    offset = (int(len(data) * where) // page) * page  # the start of a b-tree page
    _corrupt_at(offset)(data)
    p.write_bytes(bytes(data))
    _open_fails(p, "corrupt")


def test_read_meta_reports_problems_the_same_way(tmp_path: Path) -> None:
    p = tmp_path / "x.db"
    p.write_bytes(b"garbage" * 100)
    with pytest.raises(RecordingError, match="not an SQLite database"):
        read_meta(p)
