"""The status bar's loop-lag reading covers the last seconds of use, not start-up."""

from __future__ import annotations

from withscope.gui.model.lag import LagMonitor


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_startup_stall_leaves_the_reading_once_it_is_older_than_the_window() -> None:
    # GIVEN a 1.4 s stall at start-up, then 6 s of ticks every 50 ms with 0.2 ms lag
    clock = FakeClock()
    mon = LagMonitor(interval_s=0.05, window_s=5.0, clock=clock)
    for _ in range(3):
        mon.add(1400.0)
        clock.t += 1.4
    assert mon.percentile(99) == 1400.0
    for _ in range(120):
        clock.t += 0.05
        mon.add(0.2)
    # THEN p99 and the latest reading are about those last seconds only
    assert mon.percentile(99) == 0.2
    assert mon.latest_ms == 0.2
    assert len(mon.samples) <= 5.0 / 0.05 + 1


def test_an_idle_monitor_reads_nothing_once_its_samples_are_old() -> None:
    clock = FakeClock()
    mon = LagMonitor(window_s=5.0, clock=clock)
    mon.add(900.0)
    clock.t += 6.0
    assert mon.samples == []
    assert mon.percentile(99) == 0.0
    assert mon.latest_ms == 0.0


def test_a_stall_within_the_window_is_reported() -> None:
    clock = FakeClock()
    mon = LagMonitor(interval_s=0.05, window_s=5.0, clock=clock)
    for i in range(60):
        clock.t += 0.05
        mon.add(300.0 if i == 30 else 0.1)
    assert mon.percentile(100) == 300.0
