"""throughput-decay on a stream that ran for minutes: the fit's work is bounded whatever the number
of posts (a 5-minute stream of 30,000 posts cost 450 M pairwise slopes - gigabytes and over a
minute when the app closed), and the judgement is the same as on a short stream."""

from __future__ import annotations

import pytest
from rules_helpers import CFG, stream_from_costs
from withscope.core.rules import throughput
from withscope.core.rules.throughput import MAX_SEGMENTS, is_decaying


@pytest.fixture
def fitted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = throughput.theil_sen

    def counting(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
        sizes.append(len(xs))
        return real(xs, ys)

    monkeypatch.setattr(throughput, "theil_sen", counting)
    return sizes


def test_a_long_steady_stream_is_fitted_on_a_bounded_number_of_points(fitted: list[int]) -> None:
    # GIVEN 20,000 posts of a steady stream (the cost of every chunk the same, a little noise)
    costs = [100.0 + (i * 7919 % 13) for i in range(200_000)]
    steady = stream_from_costs(0, costs, post_every=10)
    # WHEN it is judged THEN it is not decaying, and the fit saw at most MAX_SEGMENTS points
    assert is_decaying(steady, CFG) is None
    assert fitted
    assert max(fitted) <= MAX_SEGMENTS


def test_a_long_quadratic_stream_is_still_flagged(fitted: list[int]) -> None:
    growing = stream_from_costs(0, [10 + i * 0.01 for i in range(200_000)], post_every=10)
    stats = is_decaying(growing, CFG)
    assert stats is not None
    assert stats.ratio > 2.5
    assert max(fitted) <= MAX_SEGMENTS


def test_a_short_stream_is_fitted_on_every_post(fitted: list[int]) -> None:
    is_decaying(stream_from_costs(0, [10 + i * 2.0 for i in range(200)]), CFG)
    assert fitted == [20]
