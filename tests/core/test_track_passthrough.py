"""A tracked handle is used like the original: attributes, iteration and I/O pass through."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from withscope.core import Outcome, Recorder, track


def test_a_tracked_file_writes_reads_and_iterates_like_the_original(rec: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    # WHEN a file is written through its handle
    w = track(open(path, "w", encoding="utf-8"))  # noqa: SIM115
    assert w.write("one\ntwo\n") == 8
    w.writelines(["three\n"])
    w.flush()
    assert w.name == str(path)
    assert w.closed is False
    w.close()
    assert w.closed is True
    # AND read back through another handle
    r = track(open(path, encoding="utf-8"))  # noqa: SIM115
    assert r.readline() == "one\n"
    assert list(r) == ["two\n", "three\n"]
    r.seek(0)
    assert r.read() == "one\ntwo\nthree\n"
    assert r.wrapped.tell() == r.tell()
    r.close()
    # THEN both lifetimes are released by close()
    assert [(lt.kind, lt.outcome) for lt in rec.lifetimes()] == [("file", Outcome.RELEASED)] * 2


def test_with_binds_the_value_of_the_wrapped_enter(rec: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "b.bin"
    raw = open(path, "wb")  # noqa: SIM115
    with track(raw) as f:
        assert f is raw  # exactly what `with raw as f` binds
        f.write(b"\x00\x01")
    assert raw.closed
    assert path.read_bytes() == b"\x00\x01"
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED


def test_a_tracked_socket_sends_and_receives(rec: Recorder) -> None:
    a, b = socket.socketpair()
    ta, tb = track(a), track(b)
    ta.sendall(b"ping")
    assert tb.recv(4) == b"ping"
    assert ta.fileno() == a.fileno()
    ta.close()
    tb.close()
    assert [lt.outcome for lt in rec.lifetimes()] == [Outcome.RELEASED] * 2


def test_repr_and_wrapped_name_the_original(tmp_path: Path) -> None:
    with Recorder():
        raw = open(tmp_path / "r.txt", "w")  # noqa: SIM115
        handle = track(raw)
        assert handle.wrapped is raw
        assert repr(raw) in repr(handle)
        handle.close()


def test_missing_attributes_raise_attribute_error_like_the_original(rec: Recorder, tmp_path: Path) -> None:
    handle = track(open(tmp_path / "x", "w"))  # noqa: SIM115
    with pytest.raises(AttributeError):
        _ = handle.no_such_attribute
    handle.close()


def test_async_iteration_passes_through(rec: Recorder) -> None:
    class Feed:
        """An async iterator with aclose(): a resource."""

        def __init__(self) -> None:
            self.items = [1, 2, 3]

        def __aiter__(self) -> AsyncIterator[int]:
            return self

        async def __anext__(self) -> int:
            if not self.items:
                raise StopAsyncIteration
            return self.items.pop(0)

        async def aclose(self) -> None:
            self.items = []

    async def main() -> list[int]:
        feed = track(Feed())
        got = [x async for x in feed]
        await feed.aclose()
        return got

    assert asyncio.run(main()) == [1, 2, 3]
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED
