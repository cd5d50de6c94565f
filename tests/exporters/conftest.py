"""Fixtures: the hand-built snapshots of `exporter_snapshots`."""

from __future__ import annotations

from dataclasses import replace

import pytest
from exporter_snapshots import T0, make_run
from withscope.core.snapshot import RunSnapshot


@pytest.fixture
def run() -> RunSnapshot:
    return make_run()


@pytest.fixture
def empty_run() -> RunSnapshot:
    return RunSnapshot("empty", "ok", None, T0, 1_700_000_000.0, T0)


@pytest.fixture
def unfinished_run() -> RunSnapshot:
    """A killed recording: no end time, status running."""
    return replace(make_run(), status="running", end_ns=None)
