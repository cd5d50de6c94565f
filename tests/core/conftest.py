"""Fixtures of the recorder-core tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from withscope.core import Recorder


@pytest.fixture
def rec() -> Iterator[Recorder]:
    """A fresh recorder, active for the whole test (threads and tasks started in it included)."""
    with Recorder(name="test") as r:
        yield r
