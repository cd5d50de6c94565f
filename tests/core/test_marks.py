"""Marks are written as text and read back as typed values: every text the runner, the child's
agent and the parent write parses to its kind (and an unknown text is a user's own mark)."""

from __future__ import annotations

import pytest
from withscope.core import marks
from withscope.core.marks import MarkInfo, MarkKind, parse


@pytest.mark.parametrize(
    ("text", "info"),
    [
        (marks.RUN_START, MarkInfo(MarkKind.RUN_START)),
        (marks.WORKLOAD_END, MarkInfo(MarkKind.WORKLOAD_END)),
        (marks.CLEANUP, MarkInfo(MarkKind.CLEANUP)),
        (marks.repeat_start(2, 5), MarkInfo(MarkKind.REPEAT_START, 2, 5)),
        (marks.repeat_end(5, 5), MarkInfo(MarkKind.REPEAT_END, 5, 5)),
        (marks.stop("SIGTERM"), MarkInfo(MarkKind.STOP, detail="SIGTERM")),
        ("checkpoint 3", MarkInfo(MarkKind.OTHER, detail="checkpoint 3")),
        ("repeat x/5 end", MarkInfo(MarkKind.OTHER, detail="repeat x/5 end")),
    ],
)
def test_each_mark_text_parses_to_its_kind(text: str, info: MarkInfo) -> None:
    assert parse(text) == info


def test_the_agent_marks_with_the_same_module() -> None:
    from withscope.core.agent import launch

    assert vars(launch)["marks"] is marks
