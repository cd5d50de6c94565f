from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TARGETS = str(Path(__file__).resolve().parent.parent / "runner" / "targets_sample.py")


@pytest.fixture(autouse=True)
def _close_leaked() -> Iterator[None]:
    """Close what the leaky targets kept open: the CLI loads the targets file under a private
    module name, so every loaded copy of it is visited."""
    yield
    for mod in list(sys.modules.values()):
        if getattr(mod, "__file__", None) == TARGETS:
            while mod.LEAKED:
                with contextlib.suppress(Exception):
                    mod.LEAKED.pop().close()
