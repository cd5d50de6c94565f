"""Which tracked temporary files and directories still exist on disk (for `temp-file-left`)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from withscope.core.events import Lifetime
from withscope.core.rules.tempfiles import candidate_paths


def existing_paths(lifetimes: Iterable[Lifetime]) -> frozenset[str]:
    """The temp-file labels that exist on disk now (never raises)."""
    found: set[str] = set()
    for path in candidate_paths(lifetimes):
        try:
            if os.path.lexists(path):
                found.add(path)
        except (OSError, ValueError):
            pass
    return frozenset(found)
