"""The psutil sampler: periodic task, bounded history, subscribers, forced reads, psutil errors."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import pytest
from withscope.core import Sample
from withscope.core.sampler import Sampler


async def until(cond: Callable[[], bool], limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def test_samples_periodically_into_a_bounded_history_and_stops_cleanly() -> None:
    got: list[Sample] = []

    async def main() -> Sampler:
        s = Sampler(interval_s=0.01, history=5)
        unsubscribe = s.subscribe(got.append)
        s.start()
        s.start()  # no-op while running
        await until(lambda: len(got) >= 8)
        unsubscribe()
        n = len(got)
        await asyncio.sleep(0.03)
        assert len(got) == n, "unsubscribed callbacks get nothing more"
        await s.stop()
        assert not s.running
        await s.stop()  # safe twice
        return s

    s = asyncio.run(main())
    hist = s.history()
    assert len(hist) == 5
    assert [x.t_ns for x in hist] == sorted(x.t_ns for x in hist)
    assert s.latest() == hist[-1]
    last = hist[-1]
    assert last.rss_bytes > 0
    assert last.fds > 0
    assert last.threads >= 1
    assert s.history(since_ns=hist[-2].t_ns) == hist[-2:]
    assert s.mean_cost_us() > 0


def test_open_files_and_connections_show_up() -> None:
    s = Sampler()
    before = s.sample_now(connections=True)
    assert before is not None
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    files = [open(os.devnull) for _ in range(5)]  # noqa: SIM115
    try:
        cached = s.sample_now()
        fresh = s.sample_now(connections=True)
    finally:
        for f in files:
            f.close()
        for x in (peer, client, server):
            x.close()
    assert cached is not None
    assert fresh is not None
    assert fresh.fds >= before.fds + 8
    assert cached.connections == before.connections, "connections are re-read at most once a second"
    assert fresh.connections >= before.connections + 3  # listener, client, accepted peer


def test_access_denied_keeps_the_last_value(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Sampler()
    first = s.sample_now()
    assert first is not None

    def denied(self: psutil.Process) -> int:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "num_fds", denied)
    second = s.sample_now()
    assert second is not None
    assert second.fds == first.fds
    assert second.t_ns > first.t_ns


def test_a_process_that_is_gone_ends_sampling() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()

    async def main() -> Sampler:
        s = Sampler(interval_s=0.01, pid=child.pid)
        s.start()
        await until(lambda: not s.running)
        return s

    s = asyncio.run(main())
    assert s.gone
    assert s.sample_now() is None
    assert s.history() == []


def test_a_failing_subscriber_is_ignored() -> None:
    s = Sampler()

    def bad(_: Sample) -> None:
        raise RuntimeError("subscriber bug")

    s.subscribe(bad)
    assert s.sample_now() is not None


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Sampler(interval_s=0)


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(i * i for i in range(500))


def test_cpu_percent_is_measured_over_a_window_not_between_close_reads() -> None:
    """GIVEN a busy process read back to back (the runner's extra reads at run boundaries, the
    priming read followed at once by the first sample), THEN CPU % stays within what the machine's
    cores can give: psutil's CPU times move in 10 ms ticks, and one tick over a read 0.1 ms after
    the last one made the app's CPU chart jump to thousands of percent."""
    cap = 100.0 * (psutil.cpu_count() or 1)
    s = Sampler(interval_s=0.1)
    readings = []
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        _busy(0.0005)
        sample = s.sample_now(connections=False)
        assert sample is not None
        readings.append(sample.cpu_percent)
    assert readings[0] == 0.0  # nothing measured yet
    assert max(readings) <= cap + 1, sorted(readings)[-5:]
    assert max(readings) >= 40, "the busy loop shows"


def test_cpu_percent_of_a_tree_counts_a_new_child_from_when_it_is_seen() -> None:
    """A child that already burnt CPU before the sampler saw it adds nothing for its past."""
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()+1.5\nwhile time.time()<t: pass\n"
                              "time.sleep(30)"])
    try:
        time.sleep(1.6)  # ~1.5 s of CPU time, then idle
        s = Sampler(interval_s=0.1, tree=True)
        s.sample_now()
        readings = []
        for _ in range(6):
            time.sleep(0.1)
            sample = s.sample_now()
            assert sample is not None
            readings.append(sample.cpu_percent)
        assert child.pid in s.tree_pids
        assert max(readings) < 50, readings
    finally:
        child.kill()
        child.wait()


def test_a_process_that_exited_is_gone_not_a_row_of_zeros() -> None:
    # GIVEN a child that has exited but is not reaped yet (a zombie: a child run's process between
    # its exit and the parent's wait)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, still not reaped
        s = Sampler(pid=proc.pid, tree=True)
        # WHEN it is sampled THEN no sample (its RSS, fds and threads would read 0, 0, 1) and it is gone
        assert s.sample_now() is None
        assert s.gone
        assert s.history() == []
    finally:
        proc.wait()
