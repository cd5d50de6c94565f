"""The built-in tours agree with the catalogue: every workload exists, every pattern is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from withscope.core.rules import RULE_NAMES
from withscope.core.tours import BUILTIN_TOUR, builtin_dir, builtin_tours, check_tours, find_tour, load_tour
from withscope.core.workloads import CATALOGUE, patterns

REPO_TOURS = Path(__file__).resolve().parents[2] / "assets" / "tours"


def test_builtin_dir_is_the_source_tree_assets() -> None:
    assert builtin_dir() == REPO_TOURS
    assert sorted(p.name for p in REPO_TOURS.glob("*.json")) == [f"{t.name}.json" for t in builtin_tours()]


def test_check_tours_finds_no_problem() -> None:
    assert check_tours() == []


def test_every_workload_named_by_every_tour_exists() -> None:
    for tour in builtin_tours():
        missing = [w for w in tour.workloads if w not in CATALOGUE]
        assert missing == [], f"{tour.path}: {missing}"


def test_the_builtin_tour_walks_every_pattern_correct_then_faulty() -> None:
    tour = find_tour(None)
    assert tour.name == BUILTIN_TOUR
    order = [w for step in tour.steps for w in step.workloads]
    for pattern, _title, variants in patterns():
        names = [v.name for v in variants]
        assert all(n in order for n in names), f"pattern {pattern} not fully shown: {names}"
        correct = [order.index(v.name) for v in variants if v.variant == "correct"]
        faulty = [order.index(v.name) for v in variants if v.variant == "faulty"]
        assert max(correct) < min(faulty), f"{pattern}: the correct variant must come first"


def test_the_builtin_tour_ends_with_diagnosing_your_own_code() -> None:
    last = find_tour(BUILTIN_TOUR).steps[-1]
    assert last.title == "Diagnose your own code"
    assert last.workloads == ()
    text = last.narration + (last.code or "")
    for needed in ("track(", "withscope run", ".py:", "pytest plugin"):
        assert needed in text


def test_highlighted_rules_are_ones_the_step_can_trigger() -> None:
    for tour in builtin_tours():
        for i, step in enumerate(tour.steps):
            rule = step.focus.rule
            if rule is None:
                continue
            assert rule in RULE_NAMES
            declared = set().union(*(CATALOGUE[w].expected_rules | CATALOGUE[w].postgres_rules for w in step.workloads))
            assert rule in declared, f"{tour.name} steps[{i}] highlights {rule!r}, which {step.workloads} never raise"


def test_check_tours_flags_a_builtin_tour_that_skips_a_pattern(tmp_path: Path) -> None:
    doc = json.loads((REPO_TOURS / "catalogue.json").read_text(encoding="utf-8"))
    doc["steps"] = [s for s in doc["steps"] if not any(w.startswith("sockets/") for w in s.get("workloads", []))]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert check_tours([path]) == [f"{path}: the built-in tour skips catalogue pattern(s): sockets"]


def test_unknown_workload_is_checked_against_the_real_catalogue(tmp_path: Path) -> None:
    step = {"title": "s", "narration": "n", "focus": "timeline", "workloads": ["class-cm/faulti"]}
    doc = {"name": "x", "title": "t", "description": "d", "steps": [step]}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(Exception, match=r"steps\[0\]\.workloads\[0\]: unknown workload 'class-cm/faulti' \(did you"):
        load_tour(path)
    assert check_tours([path]) == [
        f"{path}: steps[0].workloads[0]: unknown workload 'class-cm/faulti' (did you mean 'class-cm/faulty'?)"
    ]
