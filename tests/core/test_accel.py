"""The C accelerator (core/_speedups.c) and the pure-Python hot path record the same things."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from withscope.core import _accel, track

HERE = Path(__file__).resolve().parent
# Built (WITHSCOPE_PURE_PYTHON leaves it unused, but it is there).
BUILT = importlib.util.find_spec("withscope.core._speedups") is not None


def run_scenario(pure: bool) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("WITHSCOPE_PURE_PYTHON", None)
    if pure:
        env["WITHSCOPE_PURE_PYTHON"] = "1"
    out = subprocess.run(
        [sys.executable, str(HERE / "accel_scenario.py")], capture_output=True, text=True, env=env, check=True,
        cwd=HERE.parents[1], timeout=60,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(not BUILT, reason="the C accelerator is not built here (no C compiler at install time)")
def test_the_accelerator_is_used_when_built() -> None:
    if os.environ.get("WITHSCOPE_PURE_PYTHON") == "1":
        assert _accel.HOT_PATH == "Python"
        assert track.__module__ == "withscope.core.track"
    else:
        assert _accel.HOT_PATH == "C"
        assert type(track).__name__ == "builtin_function_or_method"


@pytest.mark.skipif(not BUILT, reason="the C accelerator is not built here (no C compiler at install time)")
def test_both_hot_paths_record_the_same_lifetimes_and_streams() -> None:
    c, py = run_scenario(pure=False), run_scenario(pure=True)
    assert (c.pop("hot_path"), py.pop("hot_path")) == ("C", "Python")
    assert c == py
    outcomes = {lt["outcome"] for lt in c["lifetimes"]}  # type: ignore[attr-defined]
    # the scenario reaches every outcome (else the comparison would prove little)
    assert outcomes == {"released", "released-with-error", "exit-raised", "gc", "open"}
    assert len(c["small"]) + c["small_dropped"] == 5  # type: ignore[arg-type, operator]
