"""The JSON report is written as a stream: the same text as one `json.dumps` of the whole report,
with memory that does not grow with the number of lifetimes."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import overload

import pytest
from exporter_snapshots import T0, lt, make_run
from hypothesis import given, settings
from hypothesis import strategies as st
from withscope.core.events import Lifetime, Outcome
from withscope.core.exporters import export
from withscope.core.report import _item, build_report, iter_report, write_report
from withscope.core.snapshot import RunSnapshot


class LazyLifetimes(Sequence[Lifetime]):
    """`n` lifetimes made one at a time when read (the input itself costs no memory)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> Lifetime: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Lifetime]: ...
    def __getitem__(self, i: int | slice) -> Lifetime | Sequence[Lifetime]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if not 0 <= i < self.n:
            raise IndexError(i)
        return lt(i, "file", i * 0.01, i * 0.01 + 0.5, Outcome.RELEASED, label=f"/data/part-{i:08d}.csv")

    def __iter__(self) -> Iterator[Lifetime]:
        return (self[i] for i in range(self.n))


def _dumped(snap: RunSnapshot) -> str:
    return json.dumps(build_report(snap), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("which", ["run", "empty", "unfinished", "lazy"])
def test_the_streamed_text_is_exactly_the_whole_report_dumped(which: str) -> None:
    snap = {
        "run": make_run(),
        "empty": RunSnapshot("empty", "ok", None, T0, 1_700_000_000.0, T0),
        "unfinished": replace(make_run(), status="running", end_ns=None),
        "lazy": replace(make_run(), lifetimes=LazyLifetimes(5000)),
    }[which]
    assert "".join(iter_report(snap)) == _dumped(snap)


def _peak_of_writing(n: int, out: Path) -> int:
    snap = replace(make_run(), lifetimes=LazyLifetimes(n))
    tracemalloc.start()
    try:
        write_report(snap, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writing_the_report_takes_memory_independent_of_the_number_of_lifetimes(tmp_path: Path) -> None:
    # GIVEN the same run with 4,000 and with 40,000 lifetimes (made lazily, so only the writer's
    # own memory is traced); WHEN each report is written; THEN the peak barely moves (it was 10x).
    small = _peak_of_writing(4_000, tmp_path / "small.json")
    big = _peak_of_writing(40_000, tmp_path / "big.json")
    assert big < 1.5 * small, f"peak {big >> 10} KiB for 40k lifetimes vs {small >> 10} KiB for 4k"
    report = json.loads((tmp_path / "big.json").read_text(encoding="utf-8"))
    assert len(report["lifetimes"]) == 40_000
    assert report["lifetimes"][-1]["label"] == "/data/part-00039999.csv"


def test_the_json_export_is_streamed_too(tmp_path: Path) -> None:
    snap = replace(make_run(), lifetimes=LazyLifetimes(3000))
    [path] = export(snap, "json", tmp_path / "r.json")
    assert path.read_text(encoding="utf-8") == _dumped(snap)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(), st.sampled_from(["\udcff", "a\x1b[2J", "\u202e", "é\n\t\"\\"]),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1), _SCALARS, min_size=1, max_size=8))
def test_an_item_is_written_as_json_dumps_writes_it(item: dict[str, object]) -> None:
    expected = json.dumps(item, indent=2, allow_nan=False, ensure_ascii=False).replace("\n", "\n    ")
    assert _item(item, {}) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_number_is_refused_as_json_dumps_refuses_it(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        _item({"x": bad}, {})


def test_a_columnar_run_is_written_from_its_columns_exactly_as_its_objects_would_be() -> None:
    from withscope.core.events import CODE_BY_OUTCOME, FLAG_SUPPRESSED
    from withscope.core.lifetime_table import LifetimeTable
    from withscope.core.snapshot import TableLifetimes

    table = LifetimeTable()
    secret_label = "postgresql://app:S3cr3t pw@db.example:5432/prod"
    outcomes = list(Outcome)
    for lid in range(40):
        label = secret_label if lid % 7 == 0 else f"/data/{lid}.csv"
        table.fold_acquire((0, lid, T0 + lid * 1000, ("file", label, None, False), None, 0, ("main",), None))
        outcome = outcomes[lid % len(outcomes)]
        if outcome is not Outcome.OPEN:
            table.released_ns[lid] = T0 + lid * 1000 + 777
            table.outcome[lid] = CODE_BY_OUTCOME[outcome]
            table.flags[lid] = FLAG_SUPPRESSED if lid % 3 == 0 else 0
            if lid % 2:
                table.errors[lid] = (f"OperationalError: cannot reach {secret_label}", "OperationalError")
    table.grow(64)  # spare rows at the end are not lifetimes
    snap = replace(make_run(), lifetimes=TableLifetimes(table))
    text = "".join(iter_report(snap))
    assert text == _dumped(snap)
    assert "S3cr3t" not in text
    assert len(json.loads(text)["lifetimes"]) == 40
