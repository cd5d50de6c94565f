"""The pytest plugin is loaded by every pytest session where withscope is installed: loading it
must not import the recorder, the rules or asyncio (time, and coverage measured from the start)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout
    return set(out.split())


def test_loading_the_plugin_imports_no_recording_module() -> None:
    loaded = _modules_after("import withscope.core.pytest_plugin")
    heavy = {m for m in loaded if m.startswith("withscope.core.") and m != "withscope.core.pytest_plugin"}
    assert not heavy, f"the plugin imported {sorted(heavy)} at load"


def test_public_names_load_on_first_use() -> None:
    loaded = _modules_after("import withscope.core as c\nassert callable(c.track) and c.Recorder")
    assert {"withscope.core.track", "withscope.core.recorder"} <= loaded


def test_an_unknown_name_is_an_attribute_error() -> None:
    import withscope.core as core

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = core.nope


def test_track_is_the_function_whoever_loads_its_module_first() -> None:
    code = (
        "import withscope.core.track as m, sys\n"  # the submodule first, as the runner does
        "from withscope.core import track\n"
        "assert callable(track) and not isinstance(track, type(sys)), track\n"
        "assert sys.modules['withscope.core.track'].track is track\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
