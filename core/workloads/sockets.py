"""Pattern 10 - sockets: loopback clients closed correctly versus left open.

A listening socket on 127.0.0.1 (OS-chosen port) accepts a series of short client
connections: ping, pong. The correct client uses `with socket.create_connection(...)`; the
faulty one forgets to close, so the process gains one open socket - one file descriptor - per
request, which the sampler's fd and connection counts show growing while it runs.
"""

from __future__ import annotations

import socket

from withscope.core.context import Leftovers, WorkloadContext
from withscope.core.track import track

from .base import Workload

PATTERN = "sockets"
PATTERN_TITLE = "Sockets"
HOST = "127.0.0.1"
TIMEOUT_S = 5.0


def _serve_one(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with track(conn):
        conn.settimeout(TIMEOUT_S)
        if conn.recv(64) == b"ping":
            conn.sendall(b"pong")


def _exchange(client: socket.socket, listener: socket.socket) -> None:
    client.sendall(b"ping")
    _serve_one(listener)
    client.recv(64)


def _ping_with(addr: tuple[str, int], listener: socket.socket) -> None:
    with track(socket.create_connection(addr, timeout=TIMEOUT_S)) as client:
        _exchange(client, listener)


def _ping_unclosed(addr: tuple[str, int], listener: socket.socket, leftovers: Leftovers) -> None:
    client = track(socket.create_connection(addr, timeout=TIMEOUT_S))
    # The run holds the client, so it stays open (and quiet) until the runner's cleanup.
    leftovers.keep(client, client.close)
    _exchange(client, listener)
    # BUG: no client.close()


def _run(ctx: WorkloadContext, leave_open: bool) -> None:
    with track(socket.create_server((HOST, 0))) as listener:
        addr = listener.getsockname()[:2]
        for _ in range(ctx.count(20, minimum=5)):
            if ctx.stop.is_set():
                return
            if leave_open:
                _ping_unclosed(addr, listener, ctx.leftovers)
            else:
                _ping_with(addr, listener)
            ctx.stop.wait(ctx.seconds(0.03))


def correct(ctx: WorkloadContext) -> None:
    _run(ctx, leave_open=False)


def faulty(ctx: WorkloadContext) -> None:
    _run(ctx, leave_open=True)


WORKLOADS = (
    Workload(
        name=f"{PATTERN}/correct",
        pattern=PATTERN,
        pattern_title=PATTERN_TITLE,
        variant="correct",
        title="Loopback clients opened with `with socket.create_connection(...)`",
        narration=(
            "A local server answers a series of short ping requests, each from a new client socket opened "
            "with `with socket.create_connection(...)`. Both ends close after every exchange. Look for short "
            "socket bars in pairs and a flat open-files line in the process sampler."
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
        title="Client sockets that are never closed",
        narration=(
            "The same pings, but the client sockets are never closed: the server closes its end, and each "
            "client socket stays open, one more file descriptor per request. Look at the open-files and "
            "connections lines of the process sampler climbing step by step, and the socket bars that "
            "never end."
        ),
        expected_rules=frozenset({"unreleased"}),
        func=faulty,
        blocking=True,
    ),
)
