"""The C accelerator's event and outcome codes are core/events.py's: the C file defines them once,
exports them, and this test holds the two definitions together."""

from __future__ import annotations

import pytest
from withscope.core import events

speedups = pytest.importorskip("withscope.core._speedups", reason="the C accelerator is not built")


@pytest.mark.parametrize(
    ("c_name", "py_value"),
    [
        ("CODE_ACQUIRE", events.ACQUIRE),
        ("CODE_RELEASE", events.RELEASE),
        ("CODE_ABORT", events.ABORT),
        ("OUT_OPEN", events.OUT_OPEN),
        ("OUT_RELEASED", events.OUT_RELEASED),
        ("OUT_RELEASED_WITH_ERROR", events.OUT_RELEASED_WITH_ERROR),
        ("OUT_EXIT_RAISED", events.OUT_EXIT_RAISED),
    ],
)
def test_the_accelerator_uses_the_codes_of_events_py(c_name: str, py_value: int) -> None:
    assert getattr(speedups, c_name) == py_value
