"""`snapshot_at`: the run as it looked at a moment, for replay's time slider."""

from __future__ import annotations

from withscope.core import Outcome
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import snapshot_at

T0 = 1_000_000_000_000
MS = 1_000_000


def test_before_anything_happened(full_snapshot: RunSnapshot) -> None:
    early = snapshot_at(full_snapshot, T0 - 1)
    assert (early.lifetimes, early.alerts, early.samples, early.streams, early.marks) == ((), (), (), (), ())
    assert (early.status, early.end_ns, early.error) == ("running", None, None)


def test_mid_run_releases_after_the_moment_are_undone(full_snapshot: RunSnapshot) -> None:
    # GIVEN lifetimes released at 5, 7 and 8 ms WHEN looking at 6 ms
    mid = snapshot_at(full_snapshot, T0 + 6 * MS)
    by_id = {lt.id: lt for lt in mid.lifetimes}
    # THEN the one released at 5 ms is released, the later ones are open again (error and flags too)
    assert by_id[0].outcome is Outcome.RELEASED
    assert (by_id[2].outcome, by_id[2].released_ns, by_id[2].error, by_id[2].suppressed) == (
        Outcome.OPEN, None, None, False,
    )  # fmt: skip
    assert by_id[1].outcome is Outcome.OPEN
    (st,) = mid.streams
    assert st.series == ((T0 + 4 * MS, 1, 100), (T0 + 6 * MS, 2, 200))
    assert (st.chunks, st.bytes, st.ended, st.last_ns) == (2, 200, False, T0 + 6 * MS)
    assert [a.rule for a in mid.alerts] == ["unreleased"]  # the untimed alert belongs to the end
    assert [s.t_ns for s in mid.samples] == [T0]
    assert [m.text for m in mid.marks] == ["run started"]


def test_at_or_after_the_end_it_is_the_whole_run(full_snapshot: RunSnapshot) -> None:
    assert full_snapshot.end_ns is not None
    assert snapshot_at(full_snapshot, full_snapshot.end_ns) is full_snapshot
    assert snapshot_at(full_snapshot, full_snapshot.end_ns + 1) is full_snapshot
