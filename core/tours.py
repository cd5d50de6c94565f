"""Tours: guided demo walkthroughs, written as data files a trainer can edit without Python.

Tour file format ("withscope.tour/1")
=====================================

A tour is one UTF-8 JSON file (``assets/tours/<name>.json`` for the built-in ones)::

    {
      "format": "withscope.tour/1",             // optional; this version when absent
      "name": "catalogue",                      // required: lowercase letters, digits, '-'; `withscope demo NAME`
      "title": "Resource management, pattern by pattern",   // required
      "description": "What the tour shows, in a sentence or two.",  // required
      "presenter": {                            // optional, defaults shown
        "pace_s": 8,          // auto-play: seconds a step stays on screen after its workloads end
        "font_scale": 1.0,    // presenter mode: scale of narration and UI fonts (1.0 - 3.0)
        "auto_play": false    // start in auto-play
      },
      "steps": [                                // required, at least one
        {
          "title": "A connection closed by `with`",          // required
          "narration": "Text shown beside the plots.",       // required; blank lines split paragraphs,
                                                             // `backticks` mark code
          "workloads": ["class-cm/correct"],     // optional: catalogue names run when the step opens
                                                 // ("workload": "class-cm/correct" is the same)
          "focus": "timeline",                   // required: timeline | alerts | metrics | throughput | catalogue
                                                 // or {"view": "alerts", "rule": "unreleased",
                                                 //     "kind": "db.connection"} to highlight a rule's
                                                 // alerts or a kind's bars
          "repeat": 1,                           // optional: run the workloads N times (growth rules)
          "wait_s": 10,                          // optional: overrides presenter.pace_s for this step
          "code": "with track(conn): ..."        // optional: a snippet shown in monospace
        }
      ]
    }

Unknown fields are errors (a typo must not be silently ignored). Texts have a size limit - what
the tour panel can show (`MAX_CHARS`: a step's narration at most 4,000 characters, its code
4,000, a title 200, the description 1,000), at most `MAX_STEPS` steps, and a file at most
`MAX_FILE_BYTES`: `demo --check` rejects what `demo` cannot show. Workload names are checked
against the catalogue (`withscope.core.workloads`), rule names against the leak rules.

Errors: `load_tour` raises `TourError`; its message names the file and every problem, each
with the path of the field, e.g. ``tours/x.json: steps[3].title: missing`` or
``tours/x.json: invalid JSON at line 4, column 12: Expecting ',' delimiter``.

Where tours are found: the built-in directory (`builtin_dir()`: the installed package data
``withscope.assets/tours`` when present, else ``assets/tours`` of the source tree) and every
directory listed in the environment variable ``WITHSCOPE_TOURS`` (``os.pathsep``-separated).

Everything here is pure data and thread-agnostic; loading reads files and never runs code.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOUR_FORMAT = "withscope.tour/1"
FOCUS_VIEWS: tuple[str, ...] = ("timeline", "alerts", "metrics", "throughput", "catalogue")
ENV_TOURS = "WITHSCOPE_TOURS"
BUILTIN_TOUR = "catalogue"  # the tour that must walk through every catalogue pattern

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TOP_FIELDS = ("format", "name", "title", "description", "presenter", "steps")
_PRESENTER_FIELDS = ("pace_s", "font_scale", "auto_play")
_STEP_FIELDS = ("title", "narration", "workloads", "workload", "focus", "repeat", "wait_s", "code")
_FOCUS_FIELDS = ("view", "rule", "kind")
# What the tour panel can lay out and a presenter can read out: longer texts are errors.
MAX_CHARS: dict[str, int] = {"narration": 4000, "code": 4000, "title": 200, "description": 1000,
                             "name": 64, "rule": 64, "kind": 64}
MAX_STEPS = 200
MAX_FILE_BYTES = 1_000_000


def _js(value: Any, limit: int = 60) -> str:
    """`value` as JSON for a problem message, cut to `limit` characters."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TourError(Exception):
    """A tour file is missing or malformed. The message names the file and each problem."""

    def __init__(self, path: str | os.PathLike[str], problems: Iterable[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems) or ["invalid tour"]
        if len(self.problems) == 1:
            text = f"{self.path}: {self.problems[0]}"
        else:
            text = f"{self.path}: {len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class Focus:
    """What a step points at: a view, optionally one rule's alerts or one kind's bars."""

    view: str
    rule: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Presenter:
    pace_s: float = 8.0
    font_scale: float = 1.0
    auto_play: bool = False


@dataclass(frozen=True, slots=True)
class TourStep:
    title: str
    narration: str
    focus: Focus
    workloads: tuple[str, ...] = ()
    repeat: int = 1
    wait_s: float | None = None
    code: str | None = None

    def pace_s(self, presenter: Presenter) -> float:
        """How long auto-play stays on this step once its workloads have finished."""
        return self.wait_s if self.wait_s is not None else presenter.pace_s

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in re.split(r"\n\s*\n", self.narration) if p.strip())


@dataclass(frozen=True, slots=True)
class Tour:
    name: str
    title: str
    description: str
    steps: tuple[TourStep, ...]
    presenter: Presenter = field(default_factory=Presenter)
    path: Path | None = None

    @property
    def workloads(self) -> tuple[str, ...]:
        """Every workload the tour runs, in order of first use."""
        return tuple(dict.fromkeys(w for s in self.steps for w in s.workloads))


# ------------------------------------------------------------------------------ catalogue
def catalogue_patterns() -> dict[str, str]:
    """{workload name: pattern} from the catalogue."""
    from withscope.core.workloads import CATALOGUE

    return {w.name: w.pattern for w in CATALOGUE.values()}


def rule_names() -> frozenset[str]:
    from withscope.core.rules import RULE_NAMES

    return frozenset(RULE_NAMES)


# --------------------------------------------------------------------------------- parsing
def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    """Collects every problem of one tour document, each with the path of its field."""

    def __init__(self, known_workloads: Collection[str] | None, known_rules: Collection[str] | None) -> None:
        self.problems: list[str] = []
        self.known_workloads = known_workloads
        self.known_rules = known_rules

    def bad(self, where: str, problem: str) -> None:
        self.problems.append(f"{where}: {problem}" if where else problem)

    def fields(self, obj: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in obj:
            if key not in allowed:
                self.bad(
                    where or "top level",
                    f"unknown field {key!r}{_suggest(key, allowed)}; allowed: {', '.join(allowed)}",
                )

    def text(self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
        path = f"{where}.{key}" if where else key
        if key not in obj:
            if required:
                self.bad(path, "missing")
            return None
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            self.bad(path, f"expected non-empty text, got {_js(value)}")
            return None
        most = MAX_CHARS.get(key)
        if most is not None and len(value) > most:
            self.bad(path, f"{len(value):,} characters; at most {most:,} can be shown (split it into steps)")
            return None
        return value

    def number(self, obj: Mapping[str, Any], key: str, where: str, lo: float, hi: float) -> float | None:
        if key not in obj:
            return None
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.bad(f"{where}.{key}", f"expected a number from {lo:g} to {hi:g}, got {_js(value)}")
            return None
        return float(value)

    def presenter(self, obj: Any) -> Presenter:
        if not isinstance(obj, dict):
            self.bad("presenter", "expected an object")
            return Presenter()
        self.fields(obj, _PRESENTER_FIELDS, "presenter")
        pace = self.number(obj, "pace_s", "presenter", 0.5, 600)
        scale = self.number(obj, "font_scale", "presenter", 1.0, 3.0)
        auto = obj.get("auto_play", False)
        if not isinstance(auto, bool):
            self.bad("presenter.auto_play", f"expected true or false, got {_js(auto)}")
            auto = False
        default = Presenter()
        return Presenter(
            pace_s=default.pace_s if pace is None else pace,
            font_scale=default.font_scale if scale is None else scale,
            auto_play=auto,
        )

    def focus(self, obj: Any, where: str) -> Focus:
        shorthand = isinstance(obj, str)
        if shorthand:
            obj = {"view": obj}
        if not isinstance(obj, dict):
            self.bad(where, f'expected a view name or an object like {{"view": "alerts"}}, got {_js(obj)}')
            return Focus("timeline")
        self.fields(obj, _FOCUS_FIELDS, where)
        view = obj.get("view")
        if view not in FOCUS_VIEWS:
            at = where if shorthand else f"{where}.view"
            choose = f"choose one of {', '.join(FOCUS_VIEWS)}"
            if view is None:
                self.bad(at, f"missing; {choose}")
            else:
                hint = _suggest(view, FOCUS_VIEWS) if isinstance(view, str) else ""
                self.bad(at, f"unknown view {_js(view)}; {choose}{hint}")
            view = "timeline"
        rule = self.text(obj, "rule", where, required=False)
        if rule is not None and self.known_rules is not None and rule not in self.known_rules:
            self.bad(f"{where}.rule", f"unknown rule {rule!r}{_suggest(rule, self.known_rules)}")
        kind = self.text(obj, "kind", where, required=False)
        return Focus(view=str(view), rule=rule, kind=kind)

    def workloads(self, step: Mapping[str, Any], where: str) -> tuple[str, ...]:
        if "workload" in step and "workloads" in step:
            self.bad(where, "give either 'workload' or 'workloads', not both")
            return ()
        if "workload" in step:
            raw: Any = [step["workload"]]
            key = "workload"
        else:
            raw = step.get("workloads", [])
            key = "workloads"
        if not isinstance(raw, list):
            self.bad(f"{where}.{key}", f"expected a list of workload names, got {_js(raw)}")
            return ()
        names: list[str] = []
        for i, name in enumerate(raw):
            item = f"{where}.{key}" if key == "workload" else f"{where}.{key}[{i}]"
            if not isinstance(name, str) or not name:
                self.bad(item, f"expected a workload name, got {_js(name)}")
            elif self.known_workloads is not None and name not in self.known_workloads:
                self.bad(item, f"unknown workload {name[:100]!r}{_suggest(name[:100], self.known_workloads)}")
            else:
                names.append(name)
        return tuple(names)

    def step(self, obj: Any, where: str) -> TourStep | None:
        if not isinstance(obj, dict):
            self.bad(where, f"expected an object, got {_js(obj, 40)}")
            return None
        self.fields(obj, _STEP_FIELDS, where)
        title = self.text(obj, "title", where)
        narration = self.text(obj, "narration", where)
        if "focus" not in obj:
            self.bad(f"{where}.focus", f"missing; choose one of {', '.join(FOCUS_VIEWS)}")
            focus = Focus("timeline")
        else:
            focus = self.focus(obj["focus"], f"{where}.focus")
        workloads = self.workloads(obj, where)
        repeat = obj.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 100:
            self.bad(f"{where}.repeat", f"expected a whole number from 1 to 100, got {_js(repeat)}")
            repeat = 1
        wait = self.number(obj, "wait_s", where, 0.5, 600)
        code = self.text(obj, "code", where, required=False)
        if title is None or narration is None:
            return None
        return TourStep(title, narration, focus, workloads, repeat, wait, code)

    def tour(self, doc: Any, path: Path) -> Tour | None:
        if not isinstance(doc, dict):
            self.bad("", f"the top level must be a JSON object, got {type(doc).__name__}")
            return None
        self.fields(doc, _TOP_FIELDS, "")
        fmt = doc.get("format", TOUR_FORMAT)
        if fmt != TOUR_FORMAT:
            self.bad("format", f"unsupported format {_js(fmt)}; this withscope reads {TOUR_FORMAT!r}")
        name = self.text(doc, "name", "")
        if name is not None and not _NAME.match(name):
            self.bad(
                "name", f"{name!r} must be lowercase letters, digits and '-' (it is typed as `withscope demo NAME`)"
            )
        title = self.text(doc, "title", "")
        description = self.text(doc, "description", "")
        presenter = self.presenter(doc["presenter"]) if "presenter" in doc else Presenter()
        steps: list[TourStep] = []
        raw_steps = doc.get("steps")
        if raw_steps is None:
            self.bad("steps", "missing")
        elif not isinstance(raw_steps, list) or not raw_steps:
            self.bad("steps", "expected a non-empty list of steps")
        elif len(raw_steps) > MAX_STEPS:
            self.bad("steps", f"{len(raw_steps):,} steps; at most {MAX_STEPS} (split the tour)")
        else:
            for i, raw in enumerate(raw_steps):
                step = self.step(raw, f"steps[{i}]")
                if step is not None:
                    steps.append(step)
        if self.problems or name is None or title is None or description is None:
            return None
        return Tour(name, title, description, tuple(steps), presenter, path)


# --------------------------------------------------------------------------------- loading
def parse_tour(
    text: str,
    path: str | os.PathLike[str] = "<tour>",
    *,
    known_workloads: Collection[str] | None = None,
    known_rules: Collection[str] | None = None,
) -> Tour:
    """A tour from JSON text (see the module docstring). Raises `TourError` listing every problem.

    Workload and rule names are checked only against the collections given (None: not checked).
    """
    p = Path(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TourError(p, [f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from None
    checker = _Checker(known_workloads, known_rules)
    tour = checker.tour(doc, p)
    if tour is None:
        raise TourError(p, checker.problems)
    return tour


def load_tour(
    path: str | os.PathLike[str],
    *,
    known_workloads: Collection[str] | None = None,
    known_rules: Collection[str] | None = None,
) -> Tour:
    """Read and validate one tour file. Raises `TourError` naming the file and every problem.

    Workload names are checked against `known_workloads`, by default the catalogue's names
    (unchecked if the catalogue cannot be loaded); rule names likewise against the leak rules.
    """
    p = Path(path)
    try:
        if p.exists() and not p.is_file() and not p.is_dir():  # a FIFO or device would block or never end
            raise TourError(p, ["not a regular file"])
        size = p.stat().st_size if p.is_file() else 0
        if size > MAX_FILE_BYTES:
            raise TourError(p, [f"{size:,} bytes; a tour file is at most {MAX_FILE_BYTES:,}"])
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TourError(p, ["no such file"]) from None
    except IsADirectoryError:
        raise TourError(p, ["is a directory, not a tour file"]) from None
    except UnicodeDecodeError as exc:
        raise TourError(p, [f"not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise TourError(p, [f"cannot read the file: {exc.strerror or exc}"]) from None
    if known_workloads is None:
        known_workloads = frozenset(catalogue_patterns())
    if known_rules is None:
        known_rules = rule_names()
    return parse_tour(text, p, known_workloads=known_workloads, known_rules=known_rules)


def builtin_dir() -> Path:
    """The directory of the built-in tours (package data when installed, else the source tree)."""
    try:
        from importlib.resources import files

        data = Path(str(files("withscope.assets").joinpath("tours")))
        if data.is_dir():
            return data
    except Exception:  # no withscope.assets package: a source checkout or an editable install
        pass
    return Path(__file__).resolve().parent.parent / "assets" / "tours"


def tour_dirs() -> list[Path]:
    """The built-in directory, then every directory in $WITHSCOPE_TOURS."""
    dirs = [builtin_dir()]
    extra = os.environ.get(ENV_TOURS, "")
    dirs.extend(Path(d) for d in extra.split(os.pathsep) if d.strip())
    return dirs


def tour_paths() -> list[Path]:
    """Every tour file found, built-in first, each directory sorted by file name."""
    out: list[Path] = []
    for d in tour_dirs():
        if d.is_dir():
            out.extend(sorted(d.glob("*.json")))
    return out


def builtin_tours() -> list[Tour]:
    """The built-in tours, sorted by name. Raises `TourError` if one is malformed."""
    d = builtin_dir()
    paths = sorted(d.glob("*.json")) if d.is_dir() else []
    return sorted((load_tour(p) for p in paths), key=lambda t: t.name)


def find_tour(name_or_path: str | None = None) -> Tour:
    """A tour by name (searching `tour_dirs()`), or from a file path; None: the built-in tour.

    Raises `TourError`: an unknown name names the tours that exist.
    """
    name = name_or_path or BUILTIN_TOUR
    candidate = Path(name)
    if candidate.suffix == ".json" or os.sep in name or (os.altsep and os.altsep in name):
        return load_tour(candidate)
    names: list[str] = []
    for p in tour_paths():
        if p.stem == name:
            return load_tour(p)
        names.append(p.stem)
    known = ", ".join(dict.fromkeys(names)) or "none found"
    raise TourError(name, [f"no tour named {name!r}{_suggest(name, names)}; tours: {known}"])


def check_tours(
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    known_workloads: Collection[str] | None = None,
) -> list[str]:
    """Problems of every tour file (default: `tour_paths()`), one line each; empty when all is well.

    Checks each file as `load_tour` does, that tour names are unique, and that the built-in
    tour (name ``catalogue``) runs every catalogue pattern. For `withscope demo --check`.
    """
    problems: list[str] = []
    cat = catalogue_patterns()
    if known_workloads is None:
        known_workloads = frozenset(cat)
    files = [Path(p) for p in paths] if paths is not None else tour_paths()
    if not files:
        problems.append(f"no tour files found in {', '.join(str(d) for d in tour_dirs())}")
    seen: dict[str, Path] = {}
    for path in files:
        try:
            tour = load_tour(path, known_workloads=known_workloads)
        except TourError as exc:
            problems.extend(f"{exc.path}: {p}" for p in exc.problems)
            continue
        if tour.name in seen:
            problems.append(f"{path}: name {tour.name!r} is already used by {seen[tour.name]}")
        seen.setdefault(tour.name, path)
        if tour.name == BUILTIN_TOUR:
            shown = {cat[w] for w in tour.workloads if w in cat}
            missing = sorted(set(cat.values()) - shown)
            if missing:
                problems.append(f"{path}: the built-in tour skips catalogue pattern(s): {', '.join(missing)}")
    return problems


# ------------------------------------------------------------------------ `withscope demo`
DEMO_HELP = "guided tour of the catalogue in the app; --check validates every tour file headless"


def setup_demo(p: Any) -> None:
    """Arguments of ``withscope demo [NAME|FILE] [--check [FILE ...]]`` (an argparse parser)."""
    p.add_argument("tour", nargs="?", default=None, metavar="NAME", help=f"tour name or file (default {BUILTIN_TOUR})")
    p.add_argument("--check", action="store_true", help="validate the tour files and exit (no display needed)")


def demo_check(tour: str | None = None, *, out: Any = None, err: Any = None) -> int:
    """`withscope demo --check [NAME|FILE]`: print every problem; exit code 0 (none) or 1.

    Checks every tour found (or just `tour`), each workload against the catalogue.
    """
    import sys

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if tour is None:
        paths = tour_paths()
    else:
        candidate = Path(tour)
        if candidate.suffix == ".json" or candidate.exists():
            paths = [candidate]
        else:
            paths = [p for p in tour_paths() if p.stem == tour]
            if not paths:
                print(f"withscope: no tour named {tour!r}; tours: {', '.join(p.stem for p in tour_paths())}", file=err)
                return 2
    problems = check_tours(paths)
    for line in problems:
        print(line, file=err)
    if problems:
        print(f"{len(problems)} problem(s) in {len(paths)} tour file(s)", file=err)
        return 1
    print(f"{len(paths)} tour file(s) OK: {', '.join(str(p) for p in paths)}", file=out)
    return 0
