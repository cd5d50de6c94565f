"""Tour files: parsing, and a clear error naming the file and the problem for every mistake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from withscope.core.tours import (
    FOCUS_VIEWS,
    Focus,
    Presenter,
    TourError,
    check_tours,
    find_tour,
    load_tour,
    parse_tour,
)

KNOWN = frozenset({"class-cm/correct", "class-cm/faulty", "sockets/faulty"})
RULES = frozenset({"unreleased", "fd-growth"})


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "withscope.tour/1",
        "name": "mini",
        "title": "A mini tour",
        "description": "Two steps.",
        "presenter": {"pace_s": 5, "font_scale": 1.5, "auto_play": True},
        "steps": [
            {"title": "Right", "narration": "One.\n\nTwo.", "workloads": ["class-cm/correct"], "focus": "timeline"},
            {
                "title": "Wrong",
                "narration": "Leaks.",
                "workload": "class-cm/faulty",
                "focus": {"view": "alerts", "rule": "unreleased", "kind": "db.connection"},
                "repeat": 3,
                "wait_s": 12,
                "code": "with track(conn):\n    ...",
            },
        ],
    }
    doc.update(changes)
    return doc


def _write(tmp_path: Path, doc: Any, name: str = "mini.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _problems(tmp_path: Path, doc: Any) -> list[str]:
    path = _write(tmp_path, doc)
    with pytest.raises(TourError) as info:
        load_tour(path, known_workloads=KNOWN, known_rules=RULES)
    assert str(path) in str(info.value)  # the message names the file
    return info.value.problems


def test_a_valid_tour_loads_into_frozen_dataclasses(tmp_path: Path) -> None:
    tour = load_tour(_write(tmp_path, _doc()), known_workloads=KNOWN, known_rules=RULES)
    assert (tour.name, tour.title, tour.path) == ("mini", "A mini tour", tmp_path / "mini.json")
    assert tour.presenter == Presenter(pace_s=5.0, font_scale=1.5, auto_play=True)
    first, second = tour.steps
    assert first.workloads == ("class-cm/correct",)
    assert first.focus == Focus("timeline")
    assert first.paragraphs == ("One.", "Two.")
    assert first.pace_s(tour.presenter) == 5.0
    assert second.workloads == ("class-cm/faulty",)
    assert second.focus == Focus("alerts", rule="unreleased", kind="db.connection")
    assert (second.repeat, second.pace_s(tour.presenter), second.code) == (3, 12.0, "with track(conn):\n    ...")
    assert tour.workloads == ("class-cm/correct", "class-cm/faulty")
    with pytest.raises(AttributeError):
        tour.name = "other"  # type: ignore[misc]


def test_defaults_when_optional_fields_are_absent(tmp_path: Path) -> None:
    doc = _doc(steps=[{"title": "T", "narration": "N", "focus": "catalogue"}])
    del doc["presenter"], doc["format"]
    tour = load_tour(_write(tmp_path, doc), known_workloads=KNOWN)
    assert tour.presenter == Presenter()
    (step,) = tour.steps
    assert (step.workloads, step.repeat, step.wait_s, step.code) == ((), 1, None, None)


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    text = '{\n  "name": "x",\n  "title": "t"\n  "steps": []\n}\n'
    (problem,) = _problems(tmp_path, text)
    assert problem == "invalid JSON at line 4, column 3: Expecting ',' delimiter"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["steps"][1].pop("title"), "steps[1].title: missing"),
        (lambda d: d["steps"][0].pop("focus"), "steps[0].focus: missing; choose one of timeline, alerts"),
        (lambda d: d["steps"][0].update(focus="timelines"),
         "steps[0].focus: unknown view \"timelines\"; choose one of timeline, alerts, metrics, throughput, "
         "catalogue (did you mean 'timeline'?)"),
        (lambda d: d["steps"][1]["focus"].update(view="plots"), "steps[1].focus.view: unknown view \"plots\""),
        (lambda d: d["steps"][1]["focus"].update(rule="unreleasd"),
         "steps[1].focus.rule: unknown rule 'unreleasd' (did you mean 'unreleased'?)"),
        (lambda d: d["steps"][0].update(workloads=["class-cm/corect"]),
         "steps[0].workloads[0]: unknown workload 'class-cm/corect' (did you mean 'class-cm/correct'?)"),
        (lambda d: d["steps"][1].update(workload="nope"), "steps[1].workload: unknown workload 'nope'"),
        (lambda d: d["steps"][1].update(workloads=["class-cm/faulty"]), "steps[1]: give either 'workload' or"),
        (lambda d: d["steps"][0].update(narartion="x"), "steps[0]: unknown field 'narartion' (did you"),
        (lambda d: d["steps"][0].update(title=""), 'steps[0].title: expected non-empty text, got ""'),
        (lambda d: d["steps"][0].update(repeat=0), "steps[0].repeat: expected a whole number from 1 to 100, got 0"),
        (lambda d: d["steps"][0].update(wait_s="fast"), 'steps[0].wait_s: expected a number from 0.5 to 600'),
        (lambda d: d["presenter"].update(font_scale=9), "presenter.font_scale: expected a number from 1 to 3, got 9"),
        (lambda d: d["presenter"].update(auto_play="yes"), 'presenter.auto_play: expected true or false, got "yes"'),
        (lambda d: d.update(steps=[]), "steps: expected a non-empty list of steps"),
        (lambda d: d.pop("steps"), "steps: missing"),
        (lambda d: d.update(name="My Tour"), "name: 'My Tour' must be lowercase letters, digits and '-'"),
        (lambda d: d.update(format="withscope.tour/2"), 'format: unsupported format "withscope.tour/2"'),
        (lambda d: d.update(step=[]), "top level: unknown field 'step' (did you mean 'steps'?)"),
        (lambda d: d["steps"].append("next"), 'steps[2]: expected an object, got "next"'),
    ],
)  # fmt: skip
def test_each_mistake_is_named(tmp_path: Path, mutate: Any, expected: str) -> None:
    # GIVEN a valid tour with one mistake WHEN loaded THEN the error names the field and the problem
    doc = _doc()
    mutate(doc)
    problems = _problems(tmp_path, doc)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    doc = _doc()
    doc["steps"][0].pop("title")
    doc["steps"][1]["focus"] = "nowhere"
    problems = _problems(tmp_path, doc)
    assert len(problems) == 2
    path = tmp_path / "mini.json"
    with pytest.raises(TourError, match=r"mini\.json: 2 problems:\n  - steps\[0\]\.title: missing"):
        load_tour(path, known_workloads=KNOWN)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"[1, 2]", "the top level must be a JSON object, got list"), (b"\xff\xfe{}", "not UTF-8 text")],
)
def test_not_a_tour(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(TourError, match=problem):
        load_tour(path, known_workloads=KNOWN)


def test_missing_file_and_unknown_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TourError, match=r"nope\.json: no such file"):
        load_tour(tmp_path / "nope.json")
    monkeypatch.setenv("WITHSCOPE_TOURS", str(tmp_path))
    _write(tmp_path, _doc(), "mini.json")
    with pytest.raises(TourError, match=r"no tour named 'mimi' \(did you mean 'mini'\?\); tours: .*mini"):
        find_tour("mimi")


def test_trainer_tours_are_found_by_name_or_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _doc(steps=[{"title": "T", "narration": "N", "focus": "metrics"}])
    path = _write(tmp_path, doc, "mini.json")
    assert find_tour(str(path)).name == "mini"
    monkeypatch.setenv("WITHSCOPE_TOURS", str(tmp_path))
    assert find_tour("mini").path == path


def test_check_tours_lists_problems_of_every_file(tmp_path: Path) -> None:
    good = _write(tmp_path, _doc(), "a.json")
    dup = _write(tmp_path, _doc(), "b.json")
    broken = _write(tmp_path, "{", "c.json")
    problems = check_tours([good, dup, broken], known_workloads=KNOWN)
    assert problems == [
        f"{dup}: name 'mini' is already used by {good}",
        f"{broken}: invalid JSON at line 1, column 2: Expecting property name enclosed in double quotes",
    ]
    assert check_tours([good], known_workloads=KNOWN) == []


def test_focus_views_are_the_documented_ones() -> None:
    assert FOCUS_VIEWS == ("timeline", "alerts", "metrics", "throughput", "catalogue")
    tour = parse_tour(json.dumps(_doc()), known_workloads=None, known_rules=None)
    assert tour.path == Path("<tour>")


def test_demo_check_prints_problems_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from withscope.core.tours import demo_check

    good = _write(tmp_path, _doc(steps=[{"title": "T", "narration": "N", "focus": "metrics"}]), "good.json")
    assert demo_check(str(good)) == 0
    assert "1 tour file(s) OK" in capsys.readouterr().out
    broken = _write(tmp_path, _doc(steps=[{"title": "T", "focus": "metrics"}]), "broken.json")
    assert demo_check(str(broken)) == 1
    err = capsys.readouterr().err
    assert f"{broken}: steps[0].narration: missing" in err
    assert "1 problem(s) in 1 tour file(s)" in err
    assert demo_check("no-such-tour") == 2
    assert "no tour named 'no-such-tour'" in capsys.readouterr().err


def test_installed_package_data_wins_over_the_source_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.resources

    from withscope.core.tours import builtin_dir

    (tmp_path / "tours").mkdir()
    seen: list[str] = []

    def fake_files(package: str) -> Path:
        seen.append(package)
        return tmp_path

    monkeypatch.setattr(importlib.resources, "files", fake_files)
    assert builtin_dir() == tmp_path / "tours"
    assert seen == ["withscope.assets"]

    def no_package(package: str) -> Path:
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(importlib.resources, "files", no_package)
    assert builtin_dir().parts[-2:] == ("assets", "tours")
