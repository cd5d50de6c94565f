"""Bounded memory: a full buffer refuses new events and counts every one it refuses, exactly;
it never refuses a release, so a full buffer cannot fake a leak."""

from __future__ import annotations

import threading

import pytest
from core_cms import Resource, Scripted
from withscope.core import Outcome, Recorder, track, track_stream


def test_overflow_is_counted_exactly_and_reported_in_batches() -> None:
    # GIVEN a recorder that holds 10 pending events
    rec = Recorder(capacity=10)
    # WHEN 25 tracked blocks run with nobody draining (2 events each)
    for i in range(25):
        with track(Scripted([], str(i)), label=str(i), recorder=rec):
            pass
    # THEN the first 5 blocks fit; the 20 later acquisitions were refused and counted
    assert rec.pending == 10
    assert rec.dropped == 20
    batch = rec.drain()
    assert batch.dropped_total == 20
    assert [lt.label for lt in rec.lifetimes()] == ["0", "1", "2", "3", "4"]
    # AND after a drain there is room again
    with track(Scripted([], "x"), label="later", recorder=rec):
        pass
    assert rec.lifetimes()[-1].label == "later"
    assert rec.dropped == 20


def test_releases_are_never_refused_so_a_full_buffer_fakes_no_leak() -> None:
    # GIVEN two resources that filled the buffer when tracked
    rec = Recorder(capacity=2)
    a, b = track(Resource(), recorder=rec), track(Resource(), recorder=rec)
    assert rec.pending == 2
    # WHEN a third is tracked (refused) and all three are closed
    c = track(Resource(), recorder=rec)
    assert c.lifetime_id is None
    for h in (a, b, c):
        h.close()
    # THEN the two recorded ones are released (not left open), and one event was refused
    assert [lt.outcome for lt in rec.lifetimes()] == [Outcome.RELEASED, Outcome.RELEASED]
    assert rec.dropped == 1


def test_stream_updates_and_marks_are_refused_and_counted_when_full() -> None:
    rec = Recorder(capacity=3)
    stream = track_stream([b"a", b"b", b"c"], label="s", recorder=rec, interval_s=0)
    assert list(stream) == [b"a", b"b", b"c"]
    rec.mark("late")
    # 1 acquire + 2 progress updates fit; 2 later updates and the mark are refused; the end is kept
    assert rec.dropped == 3
    (st,) = rec.streams()
    assert st.ended is True
    assert rec.lifetimes()[0].outcome is Outcome.RELEASED
    assert rec.marks() == []


def test_concurrent_overflow_counts_every_refusal() -> None:
    # GIVEN 4 threads x 5,000 blocks into a tiny buffer nobody drains
    rec = Recorder(capacity=100)

    def producer() -> None:
        for _ in range(5_000):
            with track(Scripted([], "x"), recorder=rec):
                pass

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN recorded + refused acquisitions add up to all 20,000 blocks
    recorded = len(rec.lifetimes())
    assert recorded + rec.dropped == 20_000
    assert all(lt.outcome is Outcome.RELEASED for lt in rec.lifetimes())


def test_capacity_and_stack_depth_are_validated() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Recorder(capacity=0)
    with pytest.raises(ValueError, match="stack_depth"):
        Recorder(stack_depth=0)
