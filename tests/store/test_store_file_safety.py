"""What a recording may replace, who may write it, and what a reader refuses.

Devices and FIFOs are made in the test's temp dir (we may be root: `mknod` works); the real
/dev is never touched.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from withscope.core.events import Lifetime, Outcome
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import RecordingError, RecordingWriter, is_recording, open_recording, save_snapshot


def lifetime(lid: int, **kw: object) -> Lifetime:
    base: dict[str, object] = dict(
        id=lid, kind="file", label=f"f {lid}", site="app.py:1", stack=(), thread="MainThread", task=None,
        acquired_ns=1000 + lid, released_ns=2000 + lid, outcome=Outcome.RELEASED, error=None, error_type=None,
        suppressed=False, suppression_declared=False, released_by_close=False,
    )  # fmt: skip
    base.update(kw)
    return Lifetime(**base)  # type: ignore[arg-type]


def _chardev(path: Path) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is, in a temp dir
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


def _same_node(path: Path, before: os.stat_result) -> bool:
    now = os.lstat(path)
    return (now.st_ino, now.st_mode, now.st_rdev) == (before.st_ino, before.st_mode, before.st_rdev)


def _in_thread(fn: object, timeout: float = 10.0) -> BaseException | None:
    """Run `fn` in a daemon thread; fail the test if it blocks (as an open of a FIFO would)."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as exc:
            result.append(exc)
        else:
            result.append(None)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "blocked (a FIFO opened?)"
    return result[0]


@pytest.mark.parametrize("make", ["chardev", "fifo", "dir", "symlink-to-chardev", "foreign", "dangling"])
@pytest.mark.parametrize("how", ["writer", "save"])
def test_a_recording_never_replaces_what_is_not_one(
    tmp_path: Path, full_snapshot: RunSnapshot, make: str, how: str
) -> None:
    # GIVEN a path that holds something that is not a withscope recording
    p = tmp_path / "out.db"
    if make == "chardev":
        _chardev(p)
    elif make == "fifo":
        os.mkfifo(p)
    elif make == "dir":
        p.mkdir()
    elif make == "symlink-to-chardev":
        p.symlink_to(_chardev(tmp_path / "null"))
    elif make == "foreign":
        p.write_text("my notes\n")
    else:
        p.symlink_to(tmp_path / "nowhere")
    before = os.lstat(p)
    # WHEN a recording is written there
    if how == "writer":
        err = _in_thread(lambda: RecordingWriter(p, "t").close())
    else:
        err = _in_thread(lambda: save_snapshot(full_snapshot, p))
    # THEN it is refused with one line naming the path, and the node is exactly as it was
    assert isinstance(err, RecordingError), err
    assert str(p) in str(err)
    assert "\n" not in str(err)
    assert _same_node(p, before)
    if make == "foreign":
        assert p.read_text() == "my notes\n"
    assert {x.name for x in tmp_path.iterdir()} <= {"out.db", "null"}  # no temp file left behind


def test_an_empty_file_and_a_finished_recording_are_replaced(tmp_path: Path, full_snapshot: RunSnapshot) -> None:
    # An empty regular file holds nothing to lose (a `mktemp` name): it may become the recording.
    p = tmp_path / "run.db"
    p.write_bytes(b"")
    RecordingWriter(p, "first").finish()
    assert open_recording(p).target == "first"
    save_snapshot(full_snapshot, p)
    assert open_recording(p).target == full_snapshot.target
    # through a symbolic link the target is replaced and the link stays
    link = tmp_path / "latest.db"
    link.symlink_to(p)
    RecordingWriter(link, "via link").finish()
    assert link.is_symlink()
    assert open_recording(p).target == "via link"


def test_readers_never_open_a_fifo_or_device(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    err = _in_thread(lambda: open_recording(fifo))
    assert isinstance(err, RecordingError)
    assert "FIFO" in str(err)
    assert _in_thread(lambda: is_recording(fifo)) is None
    assert not is_recording(fifo)
    dev = _chardev(tmp_path / "null")
    err = _in_thread(lambda: open_recording(dev))
    assert isinstance(err, RecordingError)
    assert "character device" in str(err)


def test_a_second_writer_is_refused_and_the_first_file_survives(tmp_path: Path) -> None:
    p = tmp_path / "live.db"
    first = RecordingWriter(p, "first")
    try:
        ino = os.stat(p).st_ino
        with pytest.raises(RecordingError, match="another withscope process is recording"):
            RecordingWriter(p, "second")
        with pytest.raises(RecordingError, match="another withscope process is recording"):
            save_snapshot(RunSnapshot("x", "ok", None, 0, 0.0, 1), p)
        assert os.stat(p).st_ino == ino
    finally:
        first.finish()
    assert open_recording(p).target == "first"
    RecordingWriter(p, "third").finish()  # finished: the lock is gone, the file may be replaced
    assert open_recording(p).target == "third"


_RACER = textwrap.dedent(
    """
    import sys, time
    from withscope.core.store import RecordingError, RecordingWriter
    path, name, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
    while time.time() < go:
        pass
    try:
        w = RecordingWriter(path, name)
    except RecordingError as exc:
        print("refused", exc, flush=True)
        sys.exit(2)
    print("won", flush=True)
    sys.stdin.readline()  # hold the file until the test says so
    w.finish()
    """
)


@pytest.mark.parametrize("existing", [False, True])
def test_two_processes_starting_at_once_exactly_one_wins(tmp_path: Path, existing: bool) -> None:
    # GIVEN two real processes told to create the same recording at the same instant
    import time

    p = tmp_path / "race.db"
    if existing:
        RecordingWriter(p, "old").finish()
    go = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(p), name, repr(go)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("A", "B")
    ]
    try:
        # THEN exactly one holds it and the other is refused with one line
        firsts = [proc.stdout.readline().strip() for proc in procs]  # type: ignore[union-attr]
        assert sorted(f.split()[0] for f in firsts) == ["refused", "won"], firsts
        winner = "AB"[[f.split()[0] for f in firsts].index("won")]
        loser = procs["AB".index(winner) ^ 1]
        assert loser.wait(30) == 2
        assert "another withscope process is recording" in firsts["AB".index(winner) ^ 1]
        # AND the winner's live file is intact and its own
        assert open_recording(p).target == winner
    finally:
        for proc in procs:  # release the winner; reap both and close their pipes
            proc.communicate("\n" if proc.poll() is None else None, timeout=30)
    assert open_recording(p).target == winner
    assert open_recording(p).status == "ok"
    assert [x.name for x in tmp_path.iterdir()] == ["race.db"]  # no temp file left behind


# ------------------------------------------------------------------ text without a UTF-8 form
def test_lone_surrogates_are_stored_and_read_back_exactly(tmp_path: Path, full_snapshot: RunSnapshot) -> None:
    odd = "\ud800 lone"
    name = os.fsdecode(b"bad-\xff-name.txt")  # a non-UTF-8 file name: "bad-\udcff-name.txt"
    lts = (
        lifetime(0, label=odd, site=name, error=f"FileNotFoundError: {name}", thread=odd, task=odd),
        lifetime(1, label="plain"),
        *(lifetime(i, label=f"{name} {i}") for i in range(2, 50)),
    )
    snap = replace(full_snapshot, lifetimes=lts, target=name, error=odd)
    p = tmp_path / "odd.db"
    save_snapshot(snap, p)
    back = open_recording(p)
    assert back.lifetimes == snap.lifetimes
    assert (back.target, back.error) == (name, odd)
    # the live writer too: it never dies on such a string
    q = tmp_path / "live.db"
    from withscope.core.events import Mark

    with RecordingWriter(q, odd) as w:
        w.add_marks([Mark(1, "before"), Mark(2, odd), Mark(3, "after")])
    assert [m.text for m in open_recording(q).marks] == ["before", odd, "after"]
    assert open_recording(q).target == odd


# ---------------------------------------------------------------------- tampered recordings
def _tamper(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path)
    for stmt in sql:
        conn.execute(stmt)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("PRAGMA user_version = 2", "its SQLite header says schema version 2, its meta table 1"),
        ("UPDATE lifetimes SET acquired_ns = 'soon' WHERE id = 1", "lifetimes row id=1 has a str in acquired_ns"),
        ("UPDATE lifetimes SET label = x'ff' WHERE id = 2", "invalid data"),
        ("UPDATE samples SET rss_bytes = x'00' WHERE 1", "has a bytes in rss_bytes"),
        ("UPDATE alerts SET t_ns = 1.5 WHERE seq = 1", "alerts row seq=1 has a float in t_ns"),
        ("PRAGMA application_id = 7", "application id is 0x7"),
    ],
)
def test_a_tampered_recording_is_refused_in_one_line(
    tmp_path: Path, full_snapshot: RunSnapshot, sql: str, problem: str
) -> None:
    p = tmp_path / "run.db"
    save_snapshot(full_snapshot, p)
    _tamper(p, sql)
    with pytest.raises(RecordingError) as info:
        open_recording(p)
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_a_table_not_defined_as_withscope_defines_it_gets_every_column_checked(
    tmp_path: Path, full_snapshot: RunSnapshot
) -> None:
    # GIVEN a recording whose marks table was rebuilt without TEXT affinity (so a number stays a number)
    p = tmp_path / "run.db"
    save_snapshot(full_snapshot, p)
    _tamper(
        p,
        "ALTER TABLE marks RENAME TO old_marks",
        "CREATE TABLE marks (seq INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, text BLOB NOT NULL)",
        "INSERT INTO marks SELECT * FROM old_marks",
        "DROP TABLE old_marks",
    )
    assert [m.text for m in open_recording(p).marks] == [m.text for m in full_snapshot.marks]  # still fine
    # WHEN a mark's text becomes a number THEN the reader says so in one line
    _tamper(p, "UPDATE marks SET text = 5 WHERE seq = 1")
    with pytest.raises(RecordingError, match="marks row seq=1 has a int in text, which holds text values"):
        open_recording(p)
