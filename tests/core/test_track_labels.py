"""Default kinds and labels: something a person recognises, never a password."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from withscope.core import Recorder, track
from withscope.core.kinds import redact_dsn


def only(rec: Recorder) -> tuple[str, str]:
    (lt,) = rec.lifetimes()
    return lt.kind, lt.label


def test_a_file_is_labelled_with_its_path(rec: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    with track(open(path, "w")):
        pass
    assert only(rec) == ("file", str(path))


def test_named_temporary_files_and_directories(rec: Recorder) -> None:
    with track(tempfile.NamedTemporaryFile()) as f:
        name = f.name
    with track(tempfile.TemporaryDirectory()) as d:
        dirname = d
    kinds = [(lt.kind, lt.label) for lt in rec.lifetimes()]
    assert kinds == [("tempfile", name), ("tempdir", dirname)]


@contextlib.contextmanager
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket, int]]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    peer, _ = server.accept()
    try:
        yield client, peer, port
    finally:
        for s in (client, peer, server):
            s.close()


def test_a_connected_socket_is_labelled_with_its_peer_address(rec: Recorder) -> None:
    with tcp_pair() as (client, _peer, port):
        track(client)
    assert only(rec) == ("socket", f"127.0.0.1:{port}")


def test_a_listening_socket_is_labelled_with_its_local_address(rec: Recorder) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        handle = track(server)
        handle.close()
    assert only(rec) == ("socket", f"local 127.0.0.1:{port}")


def test_an_unnamed_unix_socket_is_labelled_with_its_fd(rec: Recorder) -> None:
    a, b = socket.socketpair()
    with a, b:
        fd = a.fileno()
        track(a).close()
    kind, label = only(rec)
    assert kind == "socket"
    assert label == f"socket fd {fd}"  # an unnamed AF_UNIX socket has no address to show


def test_sqlite_connections_are_labelled_with_their_database(rec: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    track(sqlite3.connect(path)).close()
    track(sqlite3.connect(":memory:")).close()
    labels = [(lt.kind, lt.label) for lt in rec.lifetimes()]
    assert labels == [("db.connection", f"sqlite:{path}"), ("db.connection", "sqlite::memory:")]


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p@ss:w/rd@h/db", "postgresql://u:***@h/db"),
        ("postgresql://:secret@h/db", "postgresql://:***@h/db"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
        ("host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='a secret' user=u", "host=h password=*** user=u"),
        ("postgresql://h/db?user=u&password=secret&sslmode=off", "postgresql://h/db?user=u&password=***&sslmode=off"),
    ],
)
def test_dsn_passwords_are_redacted(dsn: str, expected: str) -> None:
    assert redact_dsn(dsn) == expected
    assert "secret" not in redact_dsn(dsn)


def test_a_driver_connection_is_labelled_with_its_dsn_without_password(rec: Recorder) -> None:
    # GIVEN a connection object of a PostgreSQL driver (classified by its module) exposing its DSN
    Conn = type("Connection", (), {"__module__": "psycopg.fake", "close": lambda self: None})
    conn = Conn()
    conn.dsn = "postgresql://app:hunter2@db.example:5432/prod"
    track(conn).close()
    assert only(rec) == ("db.connection", "postgresql://app:***@db.example:5432/prod")


def test_generator_managers_locks_and_explicit_names(rec: Recorder) -> None:
    @contextlib.contextmanager
    def checkout() -> Iterator[None]:
        yield

    with track(checkout()):
        pass
    with track(threading.Lock()):
        pass
    with track(threading.RLock()):
        pass
    with track(threading.Lock(), kind="mutex", label="the big lock"):
        pass
    got = [(lt.kind, lt.label) for lt in rec.lifetimes()]
    assert got[0] == ("context", "test_generator_managers_locks_and_explicit_names.<locals>.checkout")
    assert got[1][0] == got[2][0] == "lock"
    assert got[3] == ("mutex", "the big lock")
