"""Thread-safety: many producers, a concurrent consumer, no event lost."""

from __future__ import annotations

import threading
from collections import Counter

from withscope.core import Outcome, Recorder, track

THREADS = 8
BLOCKS = 50_000


class CM:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_8_threads_x_50000_tracked_blocks_lose_no_event() -> None:
    # GIVEN 8 threads, each running 50,000 tracked blocks, while another thread keeps draining
    rec = Recorder(capacity=4 * THREADS * BLOCKS)
    start = threading.Barrier(THREADS + 1)
    done = threading.Event()
    batches: list[tuple[int, int]] = []
    rec.subscribe(lambda b: batches.append((len(b.acquired), len(b.released))))

    def producer(i: int) -> None:
        label = f"t{i}"
        start.wait()
        for _ in range(BLOCKS):
            with track(CM(), label=label, recorder=rec):
                pass

    def consumer() -> None:
        while not done.is_set():
            rec.drain(max_events=20_000)
            done.wait(0.001)

    threads = [threading.Thread(target=producer, args=(i,), name=f"producer-{i}") for i in range(THREADS)]
    drainer = threading.Thread(target=consumer, name="drainer")
    for t in threads:
        t.start()
    drainer.start()
    start.wait()
    # WHEN all are done
    for t in threads:
        t.join()
    done.set()
    drainer.join()
    rec.drain()
    # THEN every acquisition and every release is there, exactly
    total = THREADS * BLOCKS
    assert rec.dropped == 0
    assert rec.table.count == total
    assert rec.events_total == 2 * total
    assert sum(a for a, _ in batches) == total
    assert sum(r for _, r in batches) == total
    table = rec.table
    assert all(table.outcome[i] == 0 for i in range(total))  # OUT_RELEASED
    per_label = Counter(table.strings[table.label[i]] for i in range(total))
    assert per_label == {f"t{i}": BLOCKS for i in range(THREADS)}
    per_thread = Counter(table.threads[table.thread[i]] for i in range(total))
    assert per_thread == {f"producer-{i}": BLOCKS for i in range(THREADS)}
    assert rec.lifetime(total - 1) is not None
    assert rec.lifetime(0).outcome is Outcome.RELEASED  # type: ignore[union-attr]
