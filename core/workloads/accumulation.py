"""Pattern 7 - accumulation cost: a list and one `b"".join` versus repeated `+=`.

Both variants build a report from the same stream of 4 KiB chunks, read through
`track_stream` so the throughput plot shows the cost of each chunk. Appending to a list is
O(1) per chunk; `acc += chunk` on bytes copies everything accumulated so far on every chunk,
O(n) per chunk and O(n^2) in total, so the faulty stream visibly slows down as it grows
(rule `throughput-decay`). The accumulated value is also referenced elsewhere (a progress
view), as in real code, so no in-place shortcut of the interpreter can hide the copying.

Sizes: the feed sends up to 3000 * scale**0.25 chunks within max(0.35, 1.2 * scale) s. The
list consumer takes them all in milliseconds; the `+=` consumer falls behind and is still
copying when the window closes (0.35 s in tests, 1.2 s at scale 1), so its duration is
bounded whatever the machine, and the mark says how far it got.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

from withscope.core.context import WorkloadContext
from withscope.core.recorder import current_recorder
from withscope.core.streams import track_stream

from .base import Workload

PATTERN = "accumulation"
PATTERN_TITLE = "Accumulation cost"
CHUNK = 4096
CHUNKS_AT_SCALE_1 = 3000
WINDOW_AT_SCALE_1_S = 1.2
INTERVAL_S = 0.02  # series posts; 20 ms smooths scheduler noise on a busy machine (>= 17 posts per run)


def _chunk_count(ctx: WorkloadContext) -> int:
    return max(64, round(CHUNKS_AT_SCALE_1 * math.pow(max(ctx.scale, 0.0), 0.25)))


def _window_s(ctx: WorkloadContext) -> float:
    return max(0.35, WINDOW_AT_SCALE_1_S * ctx.scale)


def report_chunks(ctx: WorkloadContext, count: int, window_s: float) -> Iterator[bytes]:
    """The report feed: up to `count` chunks of `CHUNK` bytes, sent within `window_s` seconds
    of the first one (a consumer too slow to keep up gets fewer), or until the run is stopped."""
    body = (b"the quick brown fox jumps over the lazy dog\n" * (CHUNK // 44 + 1))[: CHUNK - 9]
    deadline = time.perf_counter() + window_s
    for i in range(count):
        if ctx.stop.is_set() or time.perf_counter() > deadline:
            return
        yield b"%08d " % i + body


def _presize_allocator(max_bytes: int) -> None:
    """Let the allocator keep buffers up to `max_bytes` in its heap, as a long-running process's does.

    Otherwise (glibc), in a fresh process every buffer bigger than the last one freed is mapped
    from the OS page by page, which makes the copying several times slower and much noisier
    than the copying itself: the quadratic shape would be there, but blurred. Allocating and
    freeing one large buffer once raises that limit; elsewhere this is just a brief allocation.
    """
    buf = bytes(min(2 * max_bytes, 30 << 20))
    del buf


class Progress:
    """What a progress view keeps: the report so far."""

    content: bytes = b""


def correct(ctx: WorkloadContext) -> None:
    _presize_allocator(_chunk_count(ctx) * CHUNK)
    parts: list[bytes] = []
    feed = report_chunks(ctx, _chunk_count(ctx), _window_s(ctx))
    with track_stream(feed, "report (list + join)", interval_s=INTERVAL_S) as chunks:
        for chunk in chunks:
            parts.append(chunk)
    report = b"".join(parts)
    current_recorder().mark(f"list + join: {len(parts)} chunks, {len(report):,} bytes")


def faulty(ctx: WorkloadContext) -> None:
    _presize_allocator(_chunk_count(ctx) * CHUNK)
    progress = Progress()
    report = b""
    received = 0
    feed = report_chunks(ctx, _chunk_count(ctx), _window_s(ctx))
    with track_stream(feed, "report (+=)", interval_s=INTERVAL_S) as chunks:
        for chunk in chunks:
            report += chunk  # BUG: copies the whole report so far, every time
            progress.content = report
            received += 1
    current_recorder().mark(f"+=: {received} chunks, {len(report):,} bytes")


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title='Chunks collected in a list and joined once with `b"".join`',
        narration=(
            "A feed sends a report as thousands of 4 KiB chunks within a time window; the consumer collects "
            "them in a list and joins them once at the end. Each chunk costs the same however much has "
            "arrived, so the whole report takes milliseconds. Look at the short, flat throughput plot and the "
            "mark counting the chunks received."
        ),
        expected_rules=frozenset(),
        func=correct,
        blocking=True,
    ),
    Workload(
        name=f"{PATTERN}/faulty",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="faulty",
        title="The report grown with `+=`: every chunk copies everything so far",
        narration=(
            "The same feed, but the consumer grows the report with `report += chunk`: bytes cannot grow in "
            "place, so every chunk copies the whole report so far. The cost per chunk grows with the report, "
            "and the consumer falls behind until the feed's window closes. Look at the throughput plot falling "
            "as the report grows, the smaller chunk count in the mark, and the `throughput-decay` alert."
        ),
        expected_rules=frozenset({"throughput-decay"}),
        func=faulty,
        blocking=True,
    ),
)
