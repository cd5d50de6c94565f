"""`throughput-decay`: a stream whose per-chunk cost grows with the data already accumulated.

The classic cause is quadratic accumulation (`acc += chunk` on bytes copies everything so far
on every chunk). `StreamStats.series` holds cumulative (t_ns, chunks, bytes) posted every
`interval_s`; each segment between two posts gives a per-chunk time at a position in the
stream (time to first byte is left out). The trend of cost against position is estimated with
Theil-Sen (the median of all pairwise slopes), which ignores a minority of outliers: a thread
preempted for 100 ms, one pause. The rule alerts when both hold:

- the fitted per-chunk cost at 7/8 of the chunks is >= `decay_ratio` (2.5) times the fitted
  cost at 1/8 (a steadily slow stream stays at ~1, whatever its speed), and
- at least `decay_min_rising` (60%) of the segment pairs that differ rise rather than fall
  (a noisy but flat stream sits near 50%).

It needs `decay_min_segments` (4) segments and `decay_min_chunks` (16) chunks: pass a small
`interval_s` to track_stream for a short stream. A lasting step up in per-chunk cost in the
first half is reported too: it is a real loss of throughput, though not necessarily quadratic.

Calibration: 150 x 32 KiB chunks through `acc += chunk` versus list + join (repeated in
tests/rules/test_throughput.py); and 67 streams of the catalogue's accumulation workload at
scale 0.2 (~1200 x 4 KiB chunks, ~250 ms, 4 ms posts), 49 of them captured while 3 busy loops
competed for the 2 CPUs, in the CLI and inside pytest: every `+=` stream is flagged (fitted
ratio 3.5-37; a plain per-quarter comparison missed 3 of the loaded ones, whose first segment
was preempted), and no list + join stream is (too short to judge). Hand-built: steady streams,
log-normal noise, one 200 ms pause anywhere and a hump are not flagged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from statistics import median

from withscope.core.events import Alert, Severity, StreamStats

from .base import RuleConfig, RuleContext, alert


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


@dataclass(frozen=True, slots=True)
class DecayStats:
    segments: int
    start_cost_ns: float  # fitted per-chunk time at 1/8 of the chunks
    end_cost_ns: float  # ... at 7/8
    ratio: float  # end / start
    rising: float  # share of differing segment pairs where the later one costs more


MAX_SEGMENTS = 64  # a longer series is merged into this many spans before the fit (see `merge`)


def merge(segs: list[Segment], most: int = MAX_SEGMENTS) -> list[Segment]:
    """At most `most` spans of consecutive segments, each with the per-chunk time over its whole
    span (its time over its chunks). The fit compares every pair of points, so a stream of
    thousands of posts (one that ran for minutes) would cost millions of slopes and gigabytes:
    merged, the work is bounded whatever the stream's length. Shorter series are unchanged."""
    n = len(segs)
    if n <= most:
        return segs
    out: list[Segment] = []
    for i in range(most):
        part = segs[i * n // most : (i + 1) * n // most]
        chunks = part[-1].chunk_to - part[0].chunk_from
        spent = sum(s.cost_ns * (s.chunk_to - s.chunk_from) for s in part)
        out.append(Segment(part[0].chunk_from, part[-1].chunk_to, part[0].bytes_from, spent / chunks))
    return out


def segments(stream: StreamStats) -> list[Segment]:
    """Per-chunk time between consecutive series posts."""
    out: list[Segment] = []
    for prev, cur in itertools.pairwise(stream.series):
        dchunks = cur[1] - prev[1]
        dt = cur[0] - prev[0]
        if dchunks > 0 and dt >= 0:
            out.append(Segment(prev[1], cur[1], prev[2], dt / dchunks))
    return out


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """(intercept, slope, share of rising pairs) of ys against xs (xs increasing)."""
    slopes: list[float] = []
    up = down = 0
    for i, j in itertools.combinations(range(len(xs)), 2):
        dx = xs[j] - xs[i]
        if dx <= 0:
            continue
        s = (ys[j] - ys[i]) / dx
        slopes.append(s)
        up += s > 0
        down += s < 0
    if not slopes:
        return (median(ys) if ys else 0.0), 0.0, 0.5
    b = median(slopes)
    a = median(y - b * x for x, y in zip(xs, ys, strict=True))
    return a, b, up / (up + down) if up + down else 0.5


def decay_stats(stream: StreamStats) -> DecayStats | None:
    """Cost growth of one stream, or None with fewer than 3 segments."""
    segs = merge(segments(stream))
    if len(segs) < 3:
        return None
    xs = [s.middle for s in segs]
    ys = [s.cost_ns for s in segs]
    a, b, rising = theil_sen(xs, ys)
    first, span = segs[0].chunk_from, segs[-1].chunk_to - segs[0].chunk_from
    start = a + b * (first + span / 8)
    end = a + b * (first + 7 * span / 8)
    floor = max(min(ys), 1e-9)  # a fitted start at or below zero: compare with the cheapest segment
    start = max(start, floor)
    return DecayStats(len(segs), start, end, end / start, rising)


def is_decaying(stream: StreamStats, cfg: RuleConfig) -> DecayStats | None:
    """The stats when `stream` shows a growing per-chunk cost under `cfg`, else None."""
    if stream.chunks < cfg.decay_min_chunks:
        return None
    st = decay_stats(stream)
    if st is None or st.segments < cfg.decay_min_segments:
        return None
    return st if st.ratio >= cfg.decay_ratio and st.rising >= cfg.decay_min_rising else None


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
            f"stream {s.label}: each chunk took {st.ratio:.1f}x longer near the end "
            f"(~{st.end_cost_ns / 1e3:.0f} us) than near the start (~{st.start_cost_ns / 1e3:.0f} us), "
            f"growing with the {s.bytes:,} bytes accumulated: the signature of quadratic accumulation"
        )
        hint = "collect chunks in a list and `b''.join(parts)` once at the end (or use io.BytesIO), not `acc += chunk`"
        lt = by_id.get(s.lifetime_id)
        a = alert("throughput-decay", Severity.WARNING, msg, hint, lt, s.last_ns)
        if lt is None:
            a = Alert(a.rule, a.severity, a.message, a.hint, s.lifetime_id, None, (), s.last_ns)
        out.append(a)
    return out
