"""`throughput-decay`: a stream whose per-chunk cost grows with the data already accumulated.

The classic cause is quadratic accumulation (`acc += chunk` on bytes copies everything so far
on every chunk). `StreamStats.series` holds cumulative (t_ns, chunks, bytes) posted every
`interval_s`; the segments between posts give a per-chunk time (time to first byte is left
out). Per quarter of the chunks, the cost is the median of the segments centred there (so a
preempted thread or one pause does not count), or the interpolated mean when no segment is.
The rule alerts when all hold:

- last quarter >= `decay_ratio` (2.5) x first quarter (a steadily slow stream stays at ~1);
- third quarter >= 1.5 x first (the growth shows before the end: a late step or a pause at
  the end is not growth) and last quarter >= 0.75 x max(second, third) (a hump is not);
- Spearman rho of the median cost in up to 8 bins against their order >= `decay_min_rank_corr`
  (0.4): a loose "it trends up" check that survives scheduler noise.

Needs `decay_min_segments` (4) segments and `decay_min_chunks` (16) chunks, i.e. a stream of
~5 posts: pass a small `interval_s` to track_stream for short runs.

Calibration (tests/rules/test_throughput.py repeats the first): 150 x 32 KiB chunks through
`acc += chunk` versus list + join; and the catalogue's accumulation workload at scale 0.2
(~1200 x 4 KiB chunks, ~240 ms, 4 ms posts) captured 36 times, 24 of them with 3 busy loops
competing for the 2 CPUs: the `+=` streams show quarter costs like 30/58/103/173 us (quiet) and
95/212/273/487 us (loaded), ratio 2.8-35, and all 28 are flagged after this calibration (5 of
16 loaded ones were missed by a plain rank correlation over raw segments); every list + join
stream is too short to judge. Hand-built: a steady stream (ratio 1.0), one 200 ms pause
anywhere, and a step in the last quarter are not flagged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from statistics import median

from ..events import Alert, Severity, StreamStats  # noqa: TID252 (mypy sees this tree as `core`)
from .base import RuleConfig, RuleContext, alert


@dataclass(frozen=True, slots=True)
class DecayStats:
    segments: int
    quartile_cost_ns: tuple[float, float, float, float]  # per-chunk time in each quarter of the chunks
    ratio: float  # last quarter / first quarter
    trend: float  # Spearman rho of the per-bin median cost against the bin's position


@dataclass(frozen=True, slots=True)
class Segment:
    """Chunks between two consecutive series posts."""

    chunk_from: int
    chunk_to: int
    bytes_from: int
    cost_ns: float  # per chunk

    @property
    def middle(self) -> float:
        return (self.chunk_from + self.chunk_to) / 2


def segments(stream: StreamStats) -> list[Segment]:
    """Per-chunk time between consecutive series posts (time to first byte excluded)."""
    out: list[Segment] = []
    for prev, cur in itertools.pairwise(stream.series):
        dchunks = cur[1] - prev[1]
        dt = cur[0] - prev[0]
        if dchunks > 0 and dt >= 0:
            out.append(Segment(prev[1], cur[1], prev[2], dt / dchunks))
    return out


def _time_at(points: list[tuple[int, int]], chunk: float) -> float:
    """Interpolated time (ns) at which `chunk` chunks had passed; points are (chunks, t_ns)."""
    for (c0, t0), (c1, t1) in itertools.pairwise(points):
        if c0 <= chunk <= c1:
            return t0 + (t1 - t0) * (chunk - c0) / (c1 - c0) if c1 > c0 else float(t1)
    return float(points[-1][1] if chunk >= points[-1][0] else points[0][1])


def _binned_medians(segs: list[Segment], first: int, span: float, bins: int) -> list[float | None]:
    """Median segment cost per bin of the chunk range (bins by segment middle; None if empty)."""
    groups: list[list[float]] = [[] for _ in range(bins)]
    for sg in segs:
        i = min(bins - 1, max(0, int((sg.middle - first) / span * bins)))
        groups[i].append(sg.cost_ns)
    return [median(g) if g else None for g in groups]


def quartile_costs(stream: StreamStats) -> tuple[float, float, float, float] | None:
    """Per-chunk ns in each quarter of the chunks after the first post: the median cost of the
    segments centred in that quarter (robust to a preempted thread or one pause), or - for a
    quarter no segment is centred in - the interpolated mean over it."""
    pts = [(c, t) for t, c, _ in stream.series]
    if len(pts) < 2 or pts[-1][0] - pts[0][0] < 4:
        return None
    first, span = pts[0][0], pts[-1][0] - pts[0][0]
    medians = _binned_medians(segments(stream), first, span, 4)
    out: list[float] = []
    for i, m in enumerate(medians):
        if m is None:
            t0, t1 = _time_at(pts, first + i * span / 4), _time_at(pts, first + (i + 1) * span / 4)
            m = (t1 - t0) / (span / 4)
        out.append(m)
    return (out[0], out[1], out[2], out[3])


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
    span = segs[-1].chunk_to - segs[0].chunk_from
    bins = [(i, m) for i, m in enumerate(_binned_medians(segs, segs[0].chunk_from, span, min(8, len(segs)))) if m]
    trend = rank_correlation([float(i) for i, _ in bins], [m for _, m in bins])
    return DecayStats(len(segs), quarts, ratio, trend)


def is_decaying(stream: StreamStats, cfg: RuleConfig) -> DecayStats | None:
    """The stats when `stream` shows quadratic-like decay under `cfg`, else None."""
    if stream.chunks < cfg.decay_min_chunks:
        return None
    st = decay_stats(stream)
    if st is None or st.segments < cfg.decay_min_segments:
        return None
    q1, q2, q3, q4 = st.quartile_cost_ns
    # Growth already visible before the last quarter (a late step or a pause at the end is not
    # growth), still highest at the end (a hump in the middle is not), and trending up overall.
    steady = q3 >= 1.5 * q1 and q4 >= 0.75 * max(q2, q3) and st.trend >= cfg.decay_min_rank_corr
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
