"""Hostile targets in a child process: each run ends (within its timeout plus the stop escalation),
names what happened, keeps what was recorded and leaves a finished recording.

GIVEN a program that crashes, exits hard, spins, blocks or forks, WHEN it runs as a ChildRun with a
recording attached, THEN the status names what happened, the file it opened is among the lifetimes
(recorded before the end), and the recording's status is the run's.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from withscope.core.runner import RunOptions
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import open_recording, record_run
from withscope.core.supervise import ChildRun, child_target

TARGETS = Path(__file__).parent / "targets"
# Generous: the machine may be busy; the tests are about ending at all, not about speed.
SLACK_S = 20.0


def run_child(script: str, tmp_path: Path, *args: str, timeout_s: float | None = None) -> tuple[RunSnapshot, float]:
    run = ChildRun(child_target(str(TARGETS / script), args), RunOptions(timeout_s=timeout_s), python=sys.executable)
    writer = record_run(run, tmp_path / "run.db")

    async def go() -> RunSnapshot:
        run.start()
        return await asyncio.wait_for(run.wait(), (timeout_s or 0) + SLACK_S)

    t0 = time.monotonic()
    snap = asyncio.run(go())
    elapsed = time.monotonic() - t0
    assert run._spawned is not None
    assert run.context is not None
    assert not run._spawned.shim.exists()  # the agent's import folder and the run's temp folder go
    assert not run.context.tmpdir.exists()
    writer.finish_with(snap)
    recorded = open_recording(tmp_path / "run.db")
    assert recorded.status == snap.status  # the parent finalised the recording
    assert [lt.label for lt in recorded.lifetimes] == [lt.label for lt in snap.lifetimes]
    return snap, elapsed


def opened_itself(snap: RunSnapshot, script: str) -> bool:
    return any(lt.kind == "file" and lt.label.endswith(script) for lt in snap.lifetimes)


@pytest.mark.parametrize(
    ("script", "status", "error_part"),
    [
        ("segfault.py", "crashed: SIGSEGV", "killed by SIGSEGV"),
        ("os_exit.py", "exited 3", None),
        ("sys_exit.py", "exited 4", None),
        ("keyboard_interrupt.py", "error", "KeyboardInterrupt (raised at"),
    ],
)
def test_a_program_that_ends_by_itself_is_named(
    tmp_path: Path, script: str, status: str, error_part: str | None
) -> None:
    snap, _ = run_child(script, tmp_path, timeout_s=30)
    assert snap.status == status
    if error_part is not None:
        assert snap.error is not None
        assert error_part in snap.error
    assert opened_itself(snap, script)
    assert [a.rule for a in snap.alerts] == ["unreleased"]  # never closed: still open when it ended


@pytest.mark.parametrize(
    "script", ["cpu_loop.py", "async_cpu_loop.py", "async_blocking_sleep.py", "big_allocation.py"]
)
def test_a_program_that_never_ends_is_stopped_at_its_timeout(tmp_path: Path, script: str) -> None:
    snap, elapsed = run_child(script, tmp_path, timeout_s=2)
    assert snap.status == "timed out"
    assert snap.error == "timed out after 2 s"
    assert elapsed < 2 + SLACK_S
    assert any(m.text == "stop: SIGINT" for m in snap.marks)
    if script != "big_allocation.py":  # its file may be opened after the machine gave it 2 GiB, or not
        assert opened_itself(snap, script)


def test_a_never_ending_non_daemon_thread_is_named_and_stopped(tmp_path: Path) -> None:
    snap, _ = run_child("endless_thread.py", tmp_path, timeout_s=2)
    assert snap.status == "timed out"
    assert snap.error is not None
    assert "non-daemon threads kept the process alive: never-ends" in snap.error
    assert opened_itself(snap, "endless_thread.py")


def test_a_forked_child_that_lives_on_is_seen_and_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "forked.pid"
    snap, _ = run_child("fork_lives_on.py", tmp_path, str(pid_file), timeout_s=30)
    assert snap.status == "ok"
    forked = int(pid_file.read_text())
    assert f"{forked} (alive at the end, stopped)" in snap.meta["child_pids"]
    deadline = time.monotonic() + SLACK_S
    while time.monotonic() < deadline:  # stopped by the run: gone (or a zombie of init) soon
        try:
            os.kill(forked, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{forked}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    else:
        pytest.fail(f"the forked process {forked} is still running")
    assert opened_itself(snap, "fork_lives_on.py")


def test_cancel_stops_the_process_group(tmp_path: Path) -> None:
    run = ChildRun(child_target(str(TARGETS / "cpu_loop.py")), python=sys.executable)

    async def go() -> RunSnapshot:
        run.start()
        while not run.target_loaded:  # noqa: ASYNC110 (a flag of the run, set by its drain)
            await asyncio.sleep(0.02)
        run.cancel()
        return await asyncio.wait_for(run.wait(), SLACK_S)

    snap = asyncio.run(go())
    assert snap.status == "stopped"
    assert snap.meta["stopped_by"] == "SIGINT"  # the loop gets KeyboardInterrupt and unwinds
    assert run.returncode is not None


def test_a_failing_cleanup_still_stops_the_process_and_removes_the_temp_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: ChildRun) -> None:
        raise RuntimeError("the group scan failed")

    monkeypatch.setattr(ChildRun, "_stop_survivors", broken)
    run = ChildRun(child_target(str(TARGETS / "cpu_loop.py")), RunOptions(timeout_s=1), python=sys.executable)

    async def go() -> RunSnapshot:
        run.start()
        return await asyncio.wait_for(run.wait(), SLACK_S)

    snap = asyncio.run(go())
    assert snap.status == "timed out"
    assert run._spawned is not None
    assert run.context is not None
    assert run._spawned.proc.poll() is not None  # stopped and reaped
    assert not run._spawned.shim.exists()
    assert not run.context.tmpdir.exists()
