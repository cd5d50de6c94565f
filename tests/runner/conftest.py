from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest
import targets_sample


@pytest.fixture(autouse=True)
def _close_leaked() -> Iterator[None]:
    """Close what the leaky targets kept open, in every loaded copy of the targets file (the
    runner loads `file.py:function` targets under a private module name)."""
    yield
    targets_sample.HOARD.clear()
    targets_sample.PARKED.set()
    for mod in list(sys.modules.values()):
        if getattr(mod, "__file__", None) == targets_sample.__file__:
            while mod.LEAKED:
                with contextlib.suppress(Exception):
                    mod.LEAKED.pop().close()
