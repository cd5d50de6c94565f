"""Run statuses are typed values with one spelling: what describe() writes, the app and the CLI read."""

from __future__ import annotations

import signal

import pytest
from withscope.core.status import RunStatus, crashed, describe, ended_on_its_own_terms, exited


@pytest.mark.parametrize(
    ("returncode", "end", "stop", "status"),
    [
        (0, None, None, RunStatus.OK),
        (3, None, None, exited(3)),
        (-signal.SIGSEGV, None, None, crashed("SIGSEGV")),
        (None, None, RunStatus.TIMED_OUT, RunStatus.TIMED_OUT),
        (-signal.SIGTERM, None, RunStatus.STOPPED, RunStatus.STOPPED),
        (1, ("end", "error", "ValueError: boom"), None, RunStatus.ERROR),
    ],
)
def test_describe_names_how_the_process_ended(returncode: int | None, end: tuple[str, ...] | None,
                                              stop: str | None, status: str) -> None:
    assert describe(returncode, end, stop)[0] == status


def test_the_program_ending_itself_is_told_apart_from_failures_and_stops() -> None:
    assert all(ended_on_its_own_terms(s) for s in (exited(3), crashed("SIGKILL"), RunStatus.TIMED_OUT))
    assert not any(ended_on_its_own_terms(s) for s in (RunStatus.OK, RunStatus.ERROR, RunStatus.STOPPED,
                                                        RunStatus.CANCELLED))
