# ruff: noqa: ASYNC230, SIM115  -- leaking and blocking opens are what these targets are for
"""Small targets for the runner tests: clean and leaky, async and sync, in a file of functions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from typing import Any

from withscope.core import track

LEAKED: list[Any] = []  # what the leaky targets keep open (closed by the tests' fixtures: close_leaked)


def close_leaked() -> None:
    """Close what the leaky targets kept open, in every loaded copy of this file (the runner
    loads `file.py:function` targets under a private module name)."""
    me = os.path.realpath(__file__)
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if path is not None and os.path.realpath(path) == me:
            while mod.LEAKED:
                with contextlib.suppress(Exception):
                    mod.LEAKED.pop().close()
DEVNULL = os.devnull


async def clean_async() -> None:
    with track(open(DEVNULL)) as f:
        f.read()
        await asyncio.sleep(0)
    a, b = socket.socketpair()
    with track(a), track(b):
        a.sendall(b"x")
        b.recv(1)


def clean_sync() -> None:
    with track(open(DEVNULL)) as f:
        f.read()


async def leaky_async() -> None:
    LEAKED.append(track(open(DEVNULL)))  # opened, kept, never closed
    with track(open(DEVNULL)):
        pass


def leaky_loop() -> None:
    for _ in range(3):
        LEAKED.append(track(open(DEVNULL)))  # the same line leaks three times


def leaky_sync() -> None:
    LEAKED.append(track(open(DEVNULL)))


async def leak_then_raise() -> None:
    LEAKED.append(track(open(DEVNULL)))
    await asyncio.sleep(0)
    raise ValueError("boom")


class Handle:
    """A closeable resource that, unlike a file, does not warn when collected unclosed."""

    def close(self) -> None:
        pass


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.handle = track(Handle(), kind="file", label="cycle.txt")


async def leak_into_cycle() -> None:
    _Cycle()  # only the garbage collector can release it, and only at gc.collect()


async def drop_then_wait() -> None:
    track(Handle(), kind="file", label="dropped.txt")  # dropped at once: the GC releases it mid-run
    await asyncio.sleep(0.4)


async def hold_a_while() -> None:
    with track(open(DEVNULL)):
        await asyncio.sleep(0.3)


async def long_clean() -> None:
    """Opens and holds files and sockets in `with` blocks for a long time (cancel me)."""
    a, b = socket.socketpair()
    with track(a), track(b), track(open(DEVNULL)):
        for _ in range(1000):
            with track(open(DEVNULL)):
                await asyncio.sleep(0.01)


def long_sync_with_stop(ctx: Any) -> None:
    """A blocking catalogue-style workload: polls ctx.stop between steps."""
    with track(open(DEVNULL)):
        for _ in range(10_000):
            if ctx.stop.is_set():
                return
            with track(open(DEVNULL)):
                time.sleep(0.005)


def leak_socket_pair() -> None:
    a, b = socket.socketpair()
    LEAKED.extend([track(a), track(b)])


def exits() -> None:
    sys.exit(3)


async def async_exits() -> None:
    sys.exit(4)


def temp_left(ctx: Any) -> None:
    kept = track(tempfile.NamedTemporaryFile(dir=ctx.tmpdir, delete=False))
    kept.write(b"x")
    kept.close()  # closed but never deleted
    with track(tempfile.NamedTemporaryFile(dir=ctx.tmpdir)) as gone:
        gone.write(b"x")


def needs_args(a: int, b: int = 2) -> None:
    pass


def gen() -> Any:
    yield 1


NOT_A_FUNCTION = 42


HOARD: list[bytes] = []
PARKED = __import__("threading").Event()


def hoard_memory() -> None:
    """Keeps 40 MiB more on every call (a cache that never evicts). Above glibc's largest mmap
    threshold (32 MiB), so it is always fresh memory, whatever the process freed before."""
    HOARD.append(b"x" * (40 << 20))


def park_a_thread() -> None:
    """Starts a thread per call that waits forever (until the tests release it)."""
    import threading

    threading.Thread(target=PARKED.wait, daemon=True, name="parked").start()


class _SwallowAll:
    def __enter__(self) -> _SwallowAll:
        return self

    def __exit__(self, *exc: object) -> bool:
        return True


class _BrokenExit:
    def __enter__(self) -> _BrokenExit:
        return self

    def __exit__(self, *exc: object) -> None:
        raise OSError("flush failed")


async def swallow_and_fail_then_wait() -> None:
    with track(_SwallowAll()):
        raise ValueError("lost")
    try:
        with track(_BrokenExit()):
            pass
    except OSError:
        pass
    await asyncio.sleep(0.4)
