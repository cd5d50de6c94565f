"""A scenario run twice by test_accel.py, on the C and on the pure-Python hot path: prints, as
JSON, every lifetime and stream it recorded with the machine-dependent fields left out."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import threading
from collections.abc import Iterator

from withscope.core import Recorder, track, track_stream
from withscope.core._accel import HOT_PATH

KEEP: list[object] = []  # entered and never exited: `open`


class CM:
    def __enter__(self) -> CM:
        return self

    def __exit__(self, *exc: object) -> bool | None:
        return None


class Swallow(CM):
    def __exit__(self, *exc: object) -> bool:
        return True


class ExitRaises(CM):
    def __exit__(self, *exc: object) -> None:
        raise OSError("exit failed")


class ACM:
    async def __aenter__(self) -> ACM:
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0)


def chunks(n: int, fail: bool = False) -> Iterator[bytes]:
    for i in range(n):
        yield b"x" * (i + 1)
    if fail:
        raise ValueError("source failed")


def sync_part() -> None:
    with track(CM()):
        pass
    with contextlib.suppress(KeyError), track(CM()):
        raise KeyError("k")
    with track(Swallow()):
        raise RuntimeError("swallowed")
    with contextlib.suppress(OSError), track(ExitRaises()):
        pass
    lock = track(threading.RLock())
    with lock, lock:
        pass
    with contextlib.ExitStack() as stack:
        stack.enter_context(track(CM()))
    h = track(CM())
    h.__enter__()
    del h  # an entry made by hand, then dropped: `gc`
    gc.collect()
    for _ in track_stream(chunks(5), "full"):
        pass
    for i, _ in enumerate(track_stream(chunks(5), "early")):
        if i == 1:
            break
    gc.collect()
    with contextlib.suppress(ValueError):
        for _ in track_stream(chunks(3, fail=True), "failing"):
            pass
    with track_stream(chunks(4), "closed") as s:
        next(iter(s))
    def worker() -> None:
        h = track(CM())
        h.__enter__()
        KEEP.append(h)

    t = threading.Thread(target=worker, name="worker")
    t.start()
    t.join()


async def async_part() -> None:
    async with track(ACM()):
        pass
    with contextlib.suppress(KeyError):
        async with track(ACM()):
            raise KeyError("a")
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(track(ACM()))

    async def child() -> None:
        async with track(ACM()), track(asyncio.Lock()):
            await asyncio.sleep(0)

    await asyncio.gather(asyncio.create_task(child(), name="child-1"), asyncio.create_task(child(), name="child-2"))
    task = asyncio.create_task(child(), name="cancelled")
    for _ in range(3):  # into the body of its `async with`
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    with Recorder(name="scenario") as rec:
        sync_part()
        asyncio.run(async_part())
        gc.collect()
    small = Recorder(capacity=3)
    for _ in range(5):
        with track(CM(), recorder=small):
            pass
    lifetimes = [
        {
            "kind": lt.kind, "label": lt.label, "site": lt.site, "thread": lt.thread, "task": lt.task,
            "outcome": str(lt.outcome), "error": lt.error, "error_type": lt.error_type,
            "suppressed": lt.suppressed, "declared": lt.suppression_declared, "close": lt.released_by_close,
            "open": lt.released_ns is None,
        }
        for lt in sorted(rec.lifetimes(), key=lambda lt: (lt.site or "", lt.task or "", lt.label, lt.outcome))
    ]
    streams = [(s.label, s.chunks, s.bytes, s.ended, s.first_chunk_ns is not None) for s in rec.streams()]
    small_out = [str(lt.outcome) for lt in small.lifetimes()]
    json.dump({"hot_path": HOT_PATH, "lifetimes": lifetimes, "streams": streams, "small": small_out,
               "small_dropped": small.dropped}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
