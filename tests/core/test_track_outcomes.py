"""How lifetimes end outside a plain `with`: garbage collection, still open when asked,
`with` blocks that do not release (sqlite3), and close()/aclose()/release() through the handle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from core_cms import AResource, Resource, Scripted
from withscope.core import Outcome, Recorder, track


def test_a_tracked_file_dropped_while_open_ends_with_gc(rec: Recorder, tmp_path: Path) -> None:
    # GIVEN a tracked file, still open
    f = open(tmp_path / "x.txt", "w")  # noqa: SIM115 - left open on purpose
    handle = track(f)
    lid = handle.lifetime_id
    assert rec.open_lifetimes()[0].id == lid
    # WHEN the handle is dropped without closing
    del handle
    # THEN the lifetime ended with outcome gc at once (reference counting)
    lt = rec.lifetimes()[0]
    assert lt.outcome is Outcome.GC
    assert lt.released_ns is not None
    f.close()


def test_a_handle_in_a_reference_cycle_ends_with_gc_when_collected(rec: Recorder) -> None:
    # GIVEN a tracked resource that refers to its own handle (a cycle)
    res = Resource()
    handle = track(res)
    res.me = handle  # type: ignore[attr-defined]
    del handle, res
    assert rec.lifetimes()[0].outcome is Outcome.OPEN  # the cycle keeps it alive
    # WHEN the cycle collector runs
    gc.collect()
    # THEN the lifetime ends with gc
    assert rec.lifetimes()[0].outcome is Outcome.GC


def test_a_context_handle_dropped_while_entered_ends_with_gc(rec: Recorder) -> None:
    handle = track(Scripted([], "a"))
    handle.__enter__()
    del handle
    assert rec.lifetimes()[0].outcome is Outcome.GC


def test_a_released_handle_reports_nothing_when_collected(rec: Recorder) -> None:
    handle = track(Resource())
    handle.close()
    del handle
    gc.collect()
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED


def test_a_resource_still_open_is_open_when_asked(rec: Recorder) -> None:
    # GIVEN a tracked resource nobody closed yet
    handle = track(Resource(), label="held")
    # WHEN the recorder is asked
    (lt,) = rec.lifetimes()
    # THEN it is open, with no release time, and listed among the open lifetimes
    assert lt.outcome is Outcome.OPEN
    assert lt.is_open
    assert lt.released_ns is None
    assert [x.label for x in rec.open_lifetimes()] == ["held"]
    assert rec.table.released_ns[lt.id] == -1
    handle.close()
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED


def test_sqlite_with_block_commits_but_does_not_release(rec: Recorder) -> None:
    # GIVEN a tracked sqlite3 connection
    conn = track(sqlite3.connect(":memory:"))
    # WHEN it is used in `with conn:` (which only commits or rolls back)
    with conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    # THEN the lifetime stays open: the connection is still usable
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.OPEN
    assert lt.kind == "db.connection"
    # AND contextlib.closing() around the handle does release it
    with contextlib.closing(conn):
        pass
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close is True


def test_sqlite_with_block_rollback_on_error_is_not_a_release(rec: Recorder) -> None:
    conn = track(sqlite3.connect(":memory:"))
    conn.execute("CREATE TABLE t (x)")

    def insert_then_fail() -> None:
        with conn:
            conn.execute("INSERT INTO t VALUES (1)")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        insert_then_fail()
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert rec.lifetimes()[0].outcome is Outcome.OPEN
    conn.close()
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED


def test_close_through_the_handle_releases_once(rec: Recorder, tmp_path: Path) -> None:
    # GIVEN a tracked file
    handle = track(open(tmp_path / "x.txt", "w"))  # noqa: SIM115
    # WHEN it is closed twice through the handle
    handle.close()
    handle.close()
    # THEN it is released once, by close()
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close is True
    assert handle.closed is True


def test_close_raising_is_exit_raised_and_propagates(rec: Recorder) -> None:
    class BadClose:
        def close(self) -> None:
            raise OSError("disk gone")

    handle = track(BadClose())
    with pytest.raises(OSError, match="disk gone"):
        handle.close()
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.EXIT_RAISED
    assert lt.error == "OSError: disk gone"
    assert lt.released_by_close is True


def test_aclose_through_the_handle_releases(rec: Recorder) -> None:
    res = AResource()

    async def main() -> None:
        handle = track(res)
        await handle.aclose()

    asyncio.run(main())
    assert res.closed is True
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close is True


def test_async_driver_close_is_recorded_when_awaited(rec: Recorder) -> None:
    # GIVEN a driver whose close() is a coroutine function (asyncpg, psycopg async)
    class AsyncDriver:
        closed = False

        async def close(self, *, timeout: float | None = None) -> str:  # noqa: ASYNC109 - asyncpg's signature
            await asyncio.sleep(0)
            self.closed = True
            return f"closed timeout={timeout}"

    seen: list[Any] = []

    async def main() -> str:
        handle = track(AsyncDriver())
        pending = handle.close(timeout=2.0)  # arguments pass through
        seen.append(rec.lifetimes()[0].outcome)  # not released before the close ran
        return str(await pending)

    assert asyncio.run(main()) == "closed timeout=2.0"
    assert seen == [Outcome.OPEN]
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED


def test_release_without_arguments_releases_with_arguments_passes_through(rec: Recorder) -> None:
    res = Resource()
    handle = track(res, label="pool")
    # WHEN release(x) is called (a pool giving back a connection): not the pool's end
    assert handle.release("conn") == "released"
    assert rec.lifetimes()[0].outcome is Outcome.OPEN
    # WHEN release() is called without arguments: the handle's resource is released
    assert handle.release() == "released"
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close is True
    assert res.log == [("release", ("conn",)), ("release", ())]


def test_a_with_exit_after_close_records_nothing_more(rec: Recorder) -> None:
    handle = track(Resource())
    with handle:
        handle.close()
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED
    assert lt.released_by_close is True


def test_with_on_a_resource_releases_on_exit_with_the_error(rec: Recorder) -> None:
    handle = track(Resource())
    with pytest.raises(KeyError), handle:
        raise KeyError("k")
    (lt,) = rec.lifetimes()
    assert lt.outcome is Outcome.RELEASED_WITH_ERROR
    assert lt.released_by_close is False
    assert lt.error == "KeyError: 'k'"
