"""Hot-path benchmarks of the recorder: tracked with / async with / streams / ingest / memory."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import deque

from common import Result, interleaved_ratio
from withscope.core import Recorder, track, track_stream


class CM:
    __slots__ = ()

    def __enter__(self) -> CM:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class ACM:
    __slots__ = ()

    async def __aenter__(self) -> ACM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def bench_with(n: int, rounds: int) -> Result:
    rec = Recorder(capacity=4 * n + 16)

    def bare(k: int) -> None:
        for _ in range(k):
            with CM():
                pass

    def tracked(k: int) -> None:
        for _ in range(k):
            with track(CM(), recorder=rec):
                pass
        rec._buf.clear()

    ratio, c, b = interleaved_ratio(tracked, bare, n, rounds)
    return Result("with_overhead_ratio", ratio, "x", "<= 4.0", f"tracked {c:.0f} ns vs bare {b:.0f} ns")


def bench_otel(n: int, rounds: int) -> Result:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("withscope-bench")
    rec = Recorder(capacity=4 * n + 16)

    def span(k: int) -> None:
        for _ in range(k):
            with tracer.start_as_current_span("op"):
                pass

    def tracked(k: int) -> None:
        for _ in range(k):
            with track(CM(), recorder=rec):
                pass
        rec._buf.clear()

    ratio, c, b = interleaved_ratio(span, tracked, n, rounds)
    return Result("otel_over_tracked_ratio", ratio, "x", ">= 20", f"otel span {c:.0f} ns vs tracked {b:.0f} ns")


def bench_async_with(n: int, rounds: int) -> Result:
    rec = Recorder(capacity=4 * n + 16)
    loop = asyncio.new_event_loop()

    async def bare_c(k: int) -> None:
        for _ in range(k):
            async with ACM():
                pass

    async def tracked_c(k: int) -> None:
        for _ in range(k):
            async with track(ACM(), recorder=rec):
                pass
        rec._buf.clear()

    try:
        ratio, c, b = interleaved_ratio(
            lambda k: loop.run_until_complete(tracked_c(k)), lambda k: loop.run_until_complete(bare_c(k)), n, rounds
        )
    finally:
        loop.close()
    return Result("async_with_overhead_ratio", ratio, "x", "<= 3.0", f"tracked {c:.0f} ns vs bare {b:.0f} ns")


def bench_stream(n: int, rounds: int) -> Result:
    rec = Recorder()

    def gen(k: int):  # type: ignore[no-untyped-def]
        chunk = b"x" * 1024
        for _ in range(k):
            yield bytes(chunk)

    def bare(k: int) -> None:
        for _ in gen(k):
            pass

    def tracked(k: int) -> None:
        for _ in track_stream(gen(k), "bench", recorder=rec):
            pass
        rec.drain()

    ratio, c, b = interleaved_ratio(tracked, bare, n, rounds)
    return Result("stream_overhead_ratio", ratio, "x", "<= 1.5", f"tracked {c:.0f} ns vs bare {b:.0f} ns per chunk")


def _ingest_round(blocks_per_thread: int) -> float:
    """One round: 4 producer threads of tracked blocks, one consumer draining in batches."""
    rec = Recorder(capacity=1 << 22)
    stop = threading.Event()
    drained = 0

    def consumer() -> None:
        nonlocal drained
        while not stop.is_set():
            drained += rec.drain(max_events=50_000).events
            time.sleep(0.001)
        while rec.pending:
            drained += rec.drain().events

    def producer() -> None:
        for _ in range(blocks_per_thread):
            with track(CM(), recorder=rec):
                pass

    threads = [threading.Thread(target=producer) for _ in range(4)]
    c = threading.Thread(target=consumer)
    c.start()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    c.join()
    expected = 4 * blocks_per_thread * 2
    if drained != expected or rec.dropped:
        raise AssertionError(f"ingest lost events: drained {drained} of {expected}, dropped {rec.dropped}")
    return expected / elapsed


def _deque_round(blocks_per_thread: int) -> float:
    """The plain-Python pipeline of the same shape (the baseline): 4 threads each entering a bare
    `with` and appending an acquire and a release tuple (code, id, perf_counter_ns()) to a shared
    deque, one consumer popping them in batches of up to 50,000 with the same 1 ms pause."""
    q: deque[tuple[int, int, int]] = deque()
    stop = threading.Event()
    drained = 0
    clock = time.perf_counter_ns

    def consumer() -> None:
        nonlocal drained
        pop = q.popleft
        while not stop.is_set():
            for _ in range(min(len(q), 50_000)):
                pop()
                drained += 1
            time.sleep(0.001)
        while q:
            pop()
            drained += 1

    def producer(base: int) -> None:
        push = q.append
        for i in range(base, base + blocks_per_thread):
            with CM():
                push((1, i, clock()))
            push((2, i, clock()))

    threads = [threading.Thread(target=producer, args=(k * blocks_per_thread,)) for k in range(4)]
    c = threading.Thread(target=consumer)
    c.start()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    c.join()
    expected = 4 * blocks_per_thread * 2
    if drained != expected:
        raise AssertionError(f"deque baseline lost events: drained {drained} of {expected}")
    return expected / elapsed


def bench_ingest(blocks_per_thread: int, rounds: int) -> Result:
    """`ingest_ratio`: events/s of tracked blocks folded by the recorder vs events/s of the plain
    deque pipeline of the same shape (`_deque_round`), interleaved, median of the per-round
    ratios; both scale with the machine's speed, so the ratio does not."""
    _ingest_round(max(1, blocks_per_thread // 10))  # warm up both
    _deque_round(max(1, blocks_per_thread // 10))
    ratios, tracked, plain = [], [], []
    for r in range(rounds):
        if r % 2 == 0:
            b = _deque_round(blocks_per_thread)
            c = _ingest_round(blocks_per_thread)
        else:
            c = _ingest_round(blocks_per_thread)
            b = _deque_round(blocks_per_thread)
        ratios.append(c / b)
        tracked.append(c)
        plain.append(b)
    t, p = statistics.median(tracked), statistics.median(plain)
    detail = (f"tracked {t:,.0f} events/s vs bare with + deque append/popleft {p:,.0f}/s; "
              f"4 threads x {blocks_per_thread:,} blocks, 0 lost")
    return Result("ingest_ratio", statistics.median(ratios), "x", ">= 0.3", detail,
                  {"events_per_s": t, "baseline_events_per_s": p})


_MEMORY_CHILD = r"""
import gc, json, sys, psutil
from withscope.core import Recorder, track
class CM:
    __slots__ = ()
    def __enter__(self): return self
    def __exit__(self, *e): return None
n = int(sys.argv[1])
proc = psutil.Process()
rec = Recorder(capacity=1 << 22)
# warm up the interpreter and the recorder's structures, then measure growth
for _ in range(1000):
    with track(CM(), recorder=rec):
        pass
rec.drain()
gc.collect()
before = proc.memory_info().rss
for i in range(n):
    with track(CM(), recorder=rec):
        pass
    if i % 100_000 == 0:
        rec.drain()
rec.drain()
gc.collect()
after = proc.memory_info().rss
print(json.dumps({"bytes": after - before, "n": n, "count": rec.table.count}))
"""


def bench_memory(n: int) -> Result:
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(n)], capture_output=True, text=True, check=True, env=os.environ
    )
    data = json.loads(out.stdout)
    per = data["bytes"] / data["n"]
    detail = f"{data['n']:,} lifetimes, RSS growth {data['bytes'] / 2**20:.1f} MiB"
    return Result("bytes_per_lifetime", per, "B", "<= 200", detail)


def run_all(quick: bool) -> list[Result]:
    n = 20_000 if quick else 200_000
    rounds = 3 if quick else 9
    gc.disable()
    try:
        out = [bench_with(n, rounds), bench_otel(n // 10, rounds), bench_async_with(n, rounds), bench_stream(n, rounds)]
    finally:
        gc.enable()
    out.append(bench_ingest(5_000 if quick else 100_000, 1 if quick else 5))
    out.append(bench_memory(50_000 if quick else 1_000_000))
    return out
