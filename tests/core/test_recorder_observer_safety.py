"""Observing never breaks the observed: when the recorder fails inside, the workload returns,
raises and suppresses exactly what it would, and the failure is logged."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import pytest
from core_cms import AScripted, Boom, Resource, Scripted, shape
from withscope.core import Batch, Recorder, track, track_stream
from withscope.core.events import ACQUIRE, MARK, RELEASE, STREAM


class ExplodingBuffer(deque[tuple[Any, ...]]):
    """Stands in for the recorder's deque: appending an event of the given codes raises."""

    def __init__(self, codes: set[int]) -> None:
        super().__init__()
        self.codes = codes

    def append(self, ev: tuple[Any, ...]) -> None:
        if ev[0] in self.codes:
            raise MemoryError("recorder buffer exploded")
        super().append(ev)


def workload(wrap: Any, stream: Any) -> list[Any]:
    """Sync and async blocks that exit cleanly, raise, suppress; a resource; two streams."""
    out: list[Any] = []
    with wrap(Scripted([], "ok")) as v:
        out.append(v)
    try:
        with wrap(Scripted([], "raises")):
            raise Boom("body")
    except Boom as exc:
        out.append(shape(exc))
    with wrap(Scripted([], "suppress", exit_mode="suppress")):
        raise Boom("swallowed")
    try:
        with wrap(Scripted([], "exit", exit_mode="raise")):
            raise Boom("body")
    except Exception as exc:
        out.append(shape(exc))
    res = wrap(Resource())
    with res:
        pass
    res.close()
    out.append(list(stream(iter([b"a", b"bc"]))))

    async def agen() -> AsyncIterator[bytes]:
        yield b"x"

    async def amain() -> list[Any]:
        got: list[Any] = []
        async with wrap(AScripted([], "a", exit_mode="suppress")) as value:
            got.append(value)
            raise Boom("async swallowed")
        got.extend([x async for x in stream(agen())])
        return got

    out.append(asyncio.run(amain()))
    return out


def bare(obj: Any, *args: Any, **kwargs: Any) -> Any:
    return obj


@pytest.mark.parametrize(
    ("codes", "logged"),
    [
        ({ACQUIRE}, ["could not record an acquisition", "could not record a stream"]),
        ({RELEASE}, ["could not record a release", "could not record the end of a stream"]),
        ({STREAM, MARK}, ["could not record stream progress"]),
    ],
    ids=["acquire", "release", "stream"],
)
def test_a_recorder_whose_buffer_raises_changes_nothing_and_logs(
    caplog: pytest.LogCaptureFixture, codes: set[int], logged: list[str]
) -> None:
    # GIVEN the results of the workload run bare
    expected = workload(bare, bare)
    # WHEN it runs tracked into a recorder whose appends of some events fail
    rec = Recorder()
    rec._set_buffer(ExplodingBuffer(codes))
    with caplog.at_level(logging.ERROR, logger="withscope"), rec:
        actual = workload(track, track_stream)
    # THEN the workload saw exactly the same, and the failures were logged
    assert actual == expected
    messages = {r.getMessage().removeprefix("withscope: ") for r in caplog.records if r.name == "withscope"}
    assert set(logged) <= messages


def test_a_failing_subscriber_is_logged_and_the_others_still_get_the_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    got: list[Batch] = []

    def broken(batch: Batch) -> None:
        raise RuntimeError("subscriber bug")

    rec.subscribe(broken)
    rec.subscribe(got.append)
    with caplog.at_level(logging.ERROR, logger="withscope"), rec:
        expected = workload(bare, bare)
        actual = workload(track, track_stream)
    assert actual == expected
    assert got, "the healthy subscriber got batches"
    assert sum(len(b.acquired) for b in got) == len(rec.lifetimes())
    assert any("subscriber failed" in r.getMessage() for r in caplog.records)


def test_a_failing_fold_is_logged_and_the_drain_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recorder()

    def broken_fold(ev: Any) -> None:
        raise RuntimeError("fold bug")

    with caplog.at_level(logging.ERROR, logger="withscope"), rec:
        expected = workload(bare, bare)
        monkeypatch.setattr(rec, "_fold_acquire", broken_fold)
        actual = workload(track, track_stream)
        batch = rec.drain()  # must not raise
    assert actual == expected
    assert batch.events > 0
    assert any("could not fold a batch" in r.getMessage() for r in caplog.records)
    assert batch.acquired, "the acquisitions were folded one by one instead"


def test_a_drain_inside_a_subscriber_does_not_recurse(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a subscriber that reads lifetimes (which drains) from inside the drain that called it
    rec = Recorder()
    seen: list[int] = []

    def nosy(batch: Batch) -> None:
        seen.append(len(rec.lifetimes()))

    rec.subscribe(nosy)
    # WHEN the recorder is drained twice (by the end of the block and explicitly)
    with caplog.at_level(logging.ERROR, logger="withscope"):
        with rec, track(Scripted([], "a"), recorder=rec):
            pass
        rec.drain()
    # THEN the subscriber ran once per drain, saw the lifetime, and nothing failed
    assert seen == [1, 1]
    assert caplog.records == []


def test_a_label_function_that_raises_falls_back_to_the_type_name(rec: Recorder) -> None:
    class Weird:
        """A driver connection whose DSN lookup fails in an unexpected way."""

        __module__ = "psycopg.fake"

        def close(self) -> None:
            pass

        @property
        def dsn(self) -> str:
            raise RuntimeError("driver bug")

    track(Weird()).close()
    (lt,) = rec.lifetimes()
    assert lt.kind == "db.connection"
    assert lt.label.endswith("Weird")
