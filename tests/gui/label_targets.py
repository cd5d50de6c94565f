"""User targets with labels of any size (run by the GUI tests through the real runner)."""

from __future__ import annotations

from typing import Literal

from withscope.core import track

KEPT: list[object] = []  # held on purpose: the leaks are the point


class Held:
    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


def big_label() -> None:
    """One resource entered and never exited, labelled with 1 MB of text."""
    cm = track(Held(), kind="resource", label="x" * 1_000_000)
    cm.__enter__()
    KEPT.append(cm)


def many_labels() -> None:
    """Ten resources entered and never exited, labelled with 100 kB of text each."""
    for i in range(10):
        cm = track(Held(), kind="resource", label=str(i) * 100_000)
        cm.__enter__()
        KEPT.append(cm)
