from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The CLI tests run the targets of tests/runner/targets_sample.py by path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runner"))
import targets_sample


@pytest.fixture(autouse=True)
def _close_leaked() -> Iterator[None]:
    yield
    targets_sample.close_leaked()  # what the leaky targets kept open, in every loaded copy
