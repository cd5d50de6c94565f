"""fd / connection / thread / memory growth across repeats, from hand-built samples and marks."""

from __future__ import annotations

from rules_helpers import ctx, lt, repeats
from withscope.core.rules.os_growth import (
    connection_growth,
    fd_growth,
    memory_growth,
    repeat_levels,
    thread_growth,
)

MIB = 1 << 20


def test_levels_are_the_samples_right_after_each_repeat_end() -> None:
    samples, marks = repeats([{"fds": 10}, {"fds": 13}, {"fds": 16}])
    assert [s.fds for s in repeat_levels(samples, marks)] == [10, 13, 16]


def test_fds_growing_every_repeat_alert_and_steady_fds_do_not() -> None:
    # GIVEN three repeats leaking 3 fds each, and three that end at the same level
    leaky, leaky_marks = repeats([{"fds": 10}, {"fds": 13}, {"fds": 16}])
    steady, steady_marks = repeats([{"fds": 10}, {"fds": 10}, {"fds": 10}])
    open_socket = lt(0, kind="socket", label="127.0.0.1:9", site="client.py:7")
    # WHEN the final rules run
    alerts = fd_growth(ctx(open_socket, samples=leaky, marks=leaky_marks, final=True))
    # THEN the leak is reported with the site of the open sockets, the steady run is not
    assert len(alerts) == 1
    assert "10 -> 16 over 3 repeats (+3.0 per repeat)" in alerts[0].message
    assert alerts[0].site == "client.py:7"
    assert fd_growth(ctx(samples=steady, marks=steady_marks, final=True)) == []


def test_growth_needs_three_repeats_and_no_drop() -> None:
    two, two_marks = repeats([{"fds": 10}, {"fds": 20}])
    assert fd_growth(ctx(samples=two, marks=two_marks, final=True)) == []
    dip, dip_marks = repeats([{"fds": 10}, {"fds": 20}, {"fds": 15}, {"fds": 30}])
    assert fd_growth(ctx(samples=dip, marks=dip_marks, final=True)) == []


def test_connections_and_threads() -> None:
    samples, marks = repeats([{"conns": 2, "threads": 3}, {"conns": 4, "threads": 3}, {"conns": 6, "threads": 3}])
    assert [a.rule for a in connection_growth(ctx(samples=samples, marks=marks, final=True))] == ["connection-growth"]
    assert thread_growth(ctx(samples=samples, marks=marks, final=True)) == []
    samples, marks = repeats([{"threads": 3}, {"threads": 4}, {"threads": 5}])
    assert [a.rule for a in thread_growth(ctx(samples=samples, marks=marks, final=True))] == ["thread-growth"]


def test_memory_warm_up_does_not_alarm_but_a_steady_slope_does() -> None:
    # GIVEN a run whose RSS jumps in the first repeat then stays, and one growing 8 MiB per repeat
    warm, warm_marks = repeats([{"rss": 200 * MIB}, {"rss": 200 * MIB + 4096}, {"rss": 200 * MIB + 8192}])
    leak, leak_marks = repeats([{"rss": 100 * MIB}, {"rss": 108 * MIB}, {"rss": 116 * MIB}, {"rss": 124 * MIB}])
    # THEN only the steady growth is reported
    assert memory_growth(ctx(samples=warm, marks=warm_marks, final=True)) == []
    (a,) = memory_growth(ctx(samples=leak, marks=leak_marks, final=True))
    assert "~8.0 MiB per repeat" in a.message


def test_memory_that_stops_growing_does_not_alarm() -> None:
    flat_end, marks = repeats([{"rss": 100 * MIB}, {"rss": 130 * MIB}, {"rss": 130 * MIB + MIB // 2}])
    assert memory_growth(ctx(samples=flat_end, marks=marks, final=True)) == []
