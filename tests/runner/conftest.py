from __future__ import annotations

from collections.abc import Iterator

import pytest
import targets_sample


@pytest.fixture(autouse=True)
def _close_leaked() -> Iterator[None]:
    yield
    targets_sample.HOARD.clear()
    targets_sample.PARKED.set()
    targets_sample.close_leaked()
