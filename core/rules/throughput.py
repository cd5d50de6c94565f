"""`throughput-decay`: a stream whose per-chunk cost grows with the data already accumulated.

The classic cause is quadratic accumulation (`acc += chunk` on bytes copies everything so far
on every chunk). `StreamStats.series` holds cumulative (t_ns, chunks, bytes) posted every
`interval_s`; time to first byte is left out (the first post is the origin). The rule alerts
when all hold:

- the mean per-chunk time in the last quarter of the chunks is at least `decay_ratio` (2.5)
  times that of the first quarter (a steadily slow stream stays at ~1), and
- it grows steadily: quarter costs never drop by more than 10%, the third quarter is already
  1.5x the first (one pause lifts a single quarter only), and the per-segment cost has a
  Spearman rank correlation >= `decay_min_rank_corr` with the bytes accumulated so far.

Needs `decay_min_segments` (4) posts after the first and `decay_min_chunks` (16) chunks.
Calibration (tests/rules/test_throughput_real.py repeats it): 150 x 32 KiB chunks with
`acc += chunk` at interval 5 ms: quarters 322/860/1448/2175 us per chunk (ratio 6.7, rank
correlation 1.0) on a cold allocator; once glibc has raised its mmap threshold the same loop
takes ~15 ms and only the copy remains (ratio ~2.6-5 depending on resolution). list + join:
flat, too short to judge. A steady 0.2 ms/chunk consumer: ratio 1.0. One 100 ms pause: ratio
1.0 with a single quarter lifted. So a demo stream should last >= ~50 ms with >= 5 posts
(pass a small `interval_s` to track_stream for short runs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..events import Alert, Severity, StreamStats  # noqa: TID252 (mypy sees this tree as `core`)
from .base import RuleConfig, RuleContext, alert


@dataclass(frozen=True, slots=True)
class DecayStats:
    segments: int
    quartile_cost_ns: tuple[float, float, float, float]  # mean per-chunk time in each quarter of the chunks
    ratio: float  # last quarter / first quarter
    rank_corr: float  # Spearman: segment cost vs accumulated bytes


def segments(stream: StreamStats) -> list[tuple[int, float]]:
    """(bytes accumulated at segment start, per-chunk ns) between consecutive series posts."""
    out: list[tuple[int, float]] = []
    for prev, cur in itertools.pairwise(stream.series):
        dchunks = cur[1] - prev[1]
        dt = cur[0] - prev[0]
        if dchunks > 0 and dt >= 0:
            out.append((prev[2], dt / dchunks))
    return out


def _time_at(points: list[tuple[int, int]], chunk: float) -> float:
    """Interpolated time (ns) at which `chunk` chunks had passed; points are (chunks, t_ns)."""
    for (c0, t0), (c1, t1) in itertools.pairwise(points):
        if c0 <= chunk <= c1:
            return t0 + (t1 - t0) * (chunk - c0) / (c1 - c0) if c1 > c0 else float(t1)
    return float(points[-1][1] if chunk >= points[-1][0] else points[0][1])


def quartile_costs(stream: StreamStats) -> tuple[float, float, float, float] | None:
    """Mean per-chunk ns in each quarter of the chunks after the first post (time to first byte
    excluded), interpolating linearly inside series segments."""
    pts = [(c, t) for t, c, _ in stream.series]
    if len(pts) < 2 or pts[-1][0] - pts[0][0] < 4:
        return None
    c0, c_end = pts[0][0], pts[-1][0]
    q = (c_end - c0) / 4
    times = [_time_at(pts, c0 + i * q) for i in range(5)]
    a, b, c, d = ((times[i + 1] - times[i]) / q for i in range(4))
    return (a, b, c, d)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0
        i = j + 1
    return ranks


def rank_correlation(xs: list[float], ys: list[float]) -> float:
    """Spearman's rho (0.0 when either side is constant)."""
    rx, ry = _ranks(xs), _ranks(ys)
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return 0.0 if vx == 0 or vy == 0 else cov / (vx * vy) ** 0.5


def decay_stats(stream: StreamStats) -> DecayStats | None:
    """Cost growth of one stream, or None with too little data."""
    segs = segments(stream)
    quarts = quartile_costs(stream)
    if len(segs) < 3 or quarts is None:
        return None
    first, last = quarts[0], quarts[3]
    ratio = last / first if first > 0 else (float("inf") if last > 0 else 1.0)
    rho = rank_correlation([float(b) for b, _ in segs], [c for _, c in segs])
    return DecayStats(len(segs), quarts, ratio, rho)


def is_decaying(stream: StreamStats, cfg: RuleConfig) -> DecayStats | None:
    """The stats when `stream` shows quadratic-like decay under `cfg`, else None."""
    if stream.chunks < cfg.decay_min_chunks:
        return None
    st = decay_stats(stream)
    if st is None or st.segments < cfg.decay_min_segments:
        return None
    q1, q2, q3, _ = st.quartile_cost_ns
    steady = q2 >= 0.9 * q1 and q3 >= 0.9 * q2 and q3 >= 1.5 * q1 and st.rank_corr >= cfg.decay_min_rank_corr
    return st if st.ratio >= cfg.decay_ratio and steady else None


def throughput_decay(ctx: RuleContext) -> list[Alert]:
    """Live: ended streams only (a stream still warming up is not judged); final: every stream."""
    out: list[Alert] = []
    by_id = {lt.id: lt for lt in ctx.lifetimes if lt.kind == "stream"}
    for s in ctx.streams:
        if not (s.ended or ctx.final):
            continue
        st = is_decaying(s, ctx.config)
        if st is None:
            continue
        msg = (
            f"stream {s.label}: each chunk took {st.ratio:.0f}x longer at the end "
            f"({st.quartile_cost_ns[3] / 1e3:.0f} us) than at the start ({st.quartile_cost_ns[0] / 1e3:.0f} us), "
            f"growing with the {s.bytes:,} bytes accumulated: quadratic accumulation"
        )
        hint = "collect chunks in a list and `b''.join(parts)` once at the end (or use io.BytesIO), not `acc += chunk`"
        lt = by_id.get(s.lifetime_id)
        a = alert("throughput-decay", Severity.WARNING, msg, hint, lt, s.last_ns)
        if lt is None:
            a = Alert(a.rule, a.severity, a.message, a.hint, s.lifetime_id, None, (), s.last_ns)
        out.append(a)
    return out
