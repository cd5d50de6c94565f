"""throughput-decay on hand-built stream series, then calibrated on a real `acc += chunk` loop."""

from __future__ import annotations

from collections.abc import Iterator

from rules_helpers import CFG, ctx, lt, stream, stream_from_costs
from withscope.core import Recorder, track_stream
from withscope.core.rules.throughput import decay_stats, is_decaying, theil_sen, throughput_decay


def test_quadratic_accumulation_alerts_and_a_steady_slow_stream_does_not() -> None:
    # GIVEN per-chunk cost growing with accumulated size, beside a steady stream 10x slower per chunk
    growing = stream_from_costs(0, [10 + i * 2.0 for i in range(200)])
    steady = stream_from_costs(1, [500.0] * 200)
    # WHEN the final rules run
    body = lt(0, kind="stream", label="body", until_ms=5)
    alerts = throughput_decay(ctx(body, streams=(growing, steady), final=True))
    # THEN only the growing one
    assert [a.lifetime_id for a in alerts] == [0]
    assert "quadratic accumulation" in alerts[0].message
    assert "join" in alerts[0].hint
    assert alerts[0].site == "app.py:12"


def test_one_pause_does_not_alarm_wherever_it_falls() -> None:
    for where in (20, 100, 170, 195):
        costs = [100.0] * 200
        costs[where] = 200_000.0
        assert is_decaying(stream_from_costs(0, costs), CFG) is None, where


def test_a_step_in_the_last_quarter_only_does_not_alarm() -> None:
    costs = [100.0] * 150 + [1000.0] * 50
    assert is_decaying(stream_from_costs(0, costs), CFG) is None


def test_a_hump_in_the_middle_does_not_alarm() -> None:
    costs = [100.0] * 50 + [600.0] * 100 + [300.0] * 50
    assert is_decaying(stream_from_costs(0, costs), CFG) is None


def test_a_quadratic_stream_under_heavy_cpu_contention_is_still_flagged() -> None:
    # GIVEN a real `+=` stream (catalogue accumulation/faulty, scale 0.2) captured while three busy
    # loops competed for 2 CPUs: the thread was preempted in the second segment (17 ms for 16 chunks)
    points = [(0.07, 1), (4.08, 255), (21.09, 271), (44.58, 376), (65.4, 470), (88.61, 532), (116.68, 604),
              (141.48, 667), (156.65, 710), (180.71, 753), (204.74, 803), (228.58, 845), (253.24, 883)]
    noisy = stream(0, [(t, c, c * 4096) for t, c in points])
    # THEN the robust quarter costs still show the growth
    stats = is_decaying(noisy, CFG)
    assert stats is not None
    assert stats.ratio > 2.5


def test_too_few_posts_or_chunks_are_not_judged() -> None:
    short = stream(0, [(0, 1, 10), (1, 5, 50), (10, 10, 100)])
    assert decay_stats(short) is None
    few_chunks = stream_from_costs(0, [10 + i * 50.0 for i in range(12)], post_every=2)
    assert is_decaying(few_chunks, CFG) is None


def test_live_judges_only_ended_streams() -> None:
    running = stream_from_costs(0, [10 + i * 2.0 for i in range(200)])
    running = type(running)(**{**{f: getattr(running, f) for f in running.__slots__}, "ended": False})
    assert throughput_decay(ctx(streams=(running,))) == []
    assert len(throughput_decay(ctx(streams=(running,), final=True))) == 1


def test_theil_sen_ignores_a_minority_of_outliers() -> None:
    xs = [float(x) for x in range(10)]
    ys = [10.0 + 2 * x for x in xs]
    ys[3] = 5000.0  # one preempted segment
    a, b, rising = theil_sen(xs, ys)
    assert b == 2.0
    assert a == 10.0
    assert rising > 0.8
    assert theil_sen([0.0, 1.0, 2.0], [5.0, 5.0, 5.0]) == (5.0, 0.0, 0.5)


def test_noise_without_a_trend_does_not_alarm() -> None:
    import random

    rng = random.Random(1)
    for _ in range(20):
        costs = [100 * rng.lognormvariate(0, 0.5) for _ in range(200)]
        for every in (10, 25, 40):
            assert is_decaying(stream_from_costs(0, costs, post_every=every), CFG) is None


def _chunks(n: int, size: int) -> Iterator[bytes]:
    chunk = b"x" * size
    for _ in range(n):
        yield chunk


def test_calibration_on_a_real_quadratic_consumer_versus_list_and_join() -> None:
    # GIVEN the same 9.8 MB stream consumed with `acc += chunk` (O(n^2)) and with list + join.
    # 300 chunks and 1 ms posts: 150 chunks and 2 ms gave only 3 posts on a fast machine, and once
    # the allocator had warmed up (later in the suite) the quadratic ratio fell to ~2.4 (limit 2.5);
    # 300 chunks keep it at ~4.5 with ~30 posts.
    with Recorder() as rec:
        acc = b""
        for c in track_stream(_chunks(300, 32 * 1024), "plus-equals", interval_s=0.001):
            acc += c
        parts = []
        for c in track_stream(_chunks(300, 32 * 1024), "join", interval_s=0.001):
            parts.append(c)
        joined = b"".join(parts)
    assert len(acc) == len(joined)
    quad, lin = rec.streams()
    # THEN the quadratic consumer is flagged, the linear one is not
    stats = decay_stats(quad)
    assert stats is not None
    assert is_decaying(quad, CFG) is not None, stats
    assert is_decaying(lin, CFG) is None
