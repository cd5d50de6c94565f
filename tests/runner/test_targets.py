"""Target strings: what resolves, and the one-line errors for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from withscope.core.targets import TargetError, resolve_target

SAMPLE = Path(__file__).parent / "targets_sample.py"


def test_file_and_module_targets_resolve_sync_and_async() -> None:
    a = resolve_target(f"{SAMPLE}:clean_async")
    assert a.is_async
    assert not a.takes_context
    assert a.workload is None
    s = resolve_target("targets_sample:clean_sync")
    assert s.blocking
    assert s.name == "targets_sample:clean_sync"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty target"),
        ("no-such-thing", "unknown target 'no-such-thing': not a catalogue name"),
        ("app.py", "names a file but no function: write app.py:FUNCTION"),
        ("missing/app.py:main", "no such file: missing/app.py"),
        (f"{SAMPLE}:nope", "has no function 'nope'; functions there: async_exits, clean_async, clean_sync"),
        (f"{SAMPLE}:needs_args", "needs_args() in "),
        (f"{SAMPLE}:NOT_A_FUNCTION", "is a int, not a function"),
        (f"{SAMPLE}:Handle", "is a type, not a function"),
        (f"{SAMPLE}:gen", "is a generator"),
        ("no_such_module_xyz:main", "no module named 'no_such_module_xyz'"),
        ("targets_sample:nope", "module targets_sample has no function 'nope'"),
        (f"{SAMPLE}:1abc", "is not a function name"),
    ],
)
def test_bad_targets_give_one_line_naming_the_problem(spec: str, message: str) -> None:
    with pytest.raises(TargetError) as info:
        resolve_target(spec)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_a_module_target_is_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a package in the current directory (not otherwise on sys.path), as `python -m` finds it
    pkg = tmp_path / "wsnightlypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "jobs.py").write_text("def nightly():\n    return None\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    # THEN `wsnightlypkg.jobs:nightly` resolves
    t = resolve_target("wsnightlypkg.jobs:nightly")
    assert t.name == "wsnightlypkg.jobs:nightly"
    assert t.blocking


def test_required_arguments_are_named() -> None:
    with pytest.raises(TargetError, match=r"needs arguments \(a\); a target takes none"):
        resolve_target(f"{SAMPLE}:needs_args")


def test_a_file_that_fails_to_import_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(TargetError, match=r"broken.py:1: syntax error"):
        resolve_target(f"{broken}:f")
    raising = tmp_path / "raising.py"
    raising.write_text("raise RuntimeError('at import')\n")
    with pytest.raises(TargetError, match=r"importing .*raising.py failed: RuntimeError: at import"):
        resolve_target(f"{raising}:f")
