"""`withscope demo --check` rejects what `withscope demo` cannot show: texts beyond the panel's
size limits, too many steps, oversized files - each as one short line; and a tour like that opens
as an error in the app at once instead of hanging it."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from withscope.core.tours import MAX_CHARS, MAX_FILE_BYTES, MAX_STEPS, TourError, demo_check, load_tour, parse_tour

KNOWN = frozenset({"class-cm/correct"})


def _doc(narration: object = "Short.", steps: int = 1, **step: Any) -> dict[str, Any]:
    one = {"title": "A step", "narration": narration, "focus": "timeline", **step}
    return {"name": "big", "title": "Big", "description": "d", "steps": [dict(one) for _ in range(steps)]}


@pytest.mark.parametrize("size", [300_000, 5_000_000])
def test_a_narration_longer_than_the_panel_shows_is_refused_in_one_short_line(size: int) -> None:
    with pytest.raises(TourError) as info:
        parse_tour(json.dumps(_doc("x" * size)), "big.json", known_workloads=KNOWN, known_rules=frozenset())
    (problem,) = info.value.problems
    assert problem.startswith("steps[0].narration: ")
    assert f"{size:,} characters" in problem
    assert len(str(info.value)) < 300


def test_the_limits_admit_the_builtin_tours_sizes() -> None:
    tour = parse_tour(json.dumps(_doc("y" * MAX_CHARS["narration"], code="z" * MAX_CHARS["code"])),
                      known_workloads=KNOWN, known_rules=frozenset())
    assert len(tour.steps[0].narration) == MAX_CHARS["narration"]


def test_too_many_steps_and_huge_code_are_refused() -> None:
    with pytest.raises(TourError) as info:
        parse_tour(json.dumps(_doc(steps=MAX_STEPS + 1)), known_workloads=KNOWN, known_rules=frozenset())
    assert info.value.problems == [f"steps: {MAX_STEPS + 1:,} steps; at most {MAX_STEPS} (split the tour)"]
    with pytest.raises(TourError) as info:
        parse_tour(json.dumps(_doc(code="c" * 100_000)), known_workloads=KNOWN, known_rules=frozenset())
    assert info.value.problems[0].startswith("steps[0].code: 100,000 characters")


def test_a_wrong_value_of_any_size_is_quoted_short() -> None:
    with pytest.raises(TourError) as info:
        parse_tour(json.dumps(_doc(narration=["n" * 1_000_000])), known_workloads=KNOWN, known_rules=frozenset())
    assert len(info.value.problems[0]) < 200


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("w") as f:
        f.write(" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(TourError) as info:
        load_tour(big, known_workloads=KNOWN, known_rules=frozenset())
    assert "bytes; a tour file is at most" in info.value.problems[0]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "tour.json"
    os.mkfifo(fifo)
    with pytest.raises(TourError) as info:
        load_tour(fifo, known_workloads=KNOWN, known_rules=frozenset())
    assert info.value.problems == ["not a regular file"]


def test_demo_check_fails_on_a_tour_demo_cannot_show(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps(_doc("w" * 300_000)))
    out, err = io.StringIO(), io.StringIO()
    assert demo_check(str(path), out=out, err=err) == 1
    lines = err.getvalue().splitlines()
    assert any("steps[0].narration: 300,000 characters" in line for line in lines)
    assert max(len(line) for line in lines) < 300
