from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import targets_sample


@pytest.fixture(autouse=True)
def _close_leaked() -> Iterator[None]:
    yield
    targets_sample.HOARD.clear()
    targets_sample.PARKED.set()
    while targets_sample.LEAKED:
        with contextlib.suppress(Exception):
            targets_sample.LEAKED.pop().close()
