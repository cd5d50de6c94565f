"""What automatic instrumentation costs the program: `open`/`close` of a file and create/close of a
socket, instrumented vs bare.

The audit hook of the instrumentation cannot be removed once installed, so the two sides run in
two worker processes started side by side: a bare one, and one with the instrumentation installed
exactly as the agent installs it (a recorder, and the registry polled and the recorder drained
every 50 ms on a thread, as the agent's drain thread does). The parent asks each for a round of n
operations in turn (A B A B ...) and reports the median of the per-round ratios.

    python benchmarks/bench_auto.py [--quick]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Result

WORKER = r"""
import os, socket, sys, threading, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "auto":
    from withscope.core.recorder import Recorder
    from withscope.core.agent.instrument import install

    rec = Recorder(name="bench")
    registry = install(rec)

    def drain_loop():
        while True:
            time.sleep(0.05)
            registry.poll()
            rec.drain()

    threading.Thread(target=drain_loop, daemon=True).start()

def files(n):
    for _ in range(n):
        open(path).close()

def sockets(n):
    for _ in range(n):
        socket.socket().close()

ops = {"file": files, "socket": sockets}
print("ready", flush=True)
for line in sys.stdin:
    what, n = line.split()
    fn = ops[what]
    t0 = time.perf_counter()
    fn(int(n))
    print((time.perf_counter() - t0) / int(n), flush=True)
"""


def _worker(mode: str, path: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", WORKER, mode, path], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    return p


def _round(p: subprocess.Popen[str], what: str, n: int) -> float:
    assert p.stdin is not None
    assert p.stdout is not None
    p.stdin.write(f"{what} {n}\n")
    p.stdin.flush()
    return float(p.stdout.readline())


def bench_auto(what: str, n: int, rounds: int) -> Result:
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "f.txt")
        Path(path).write_text("x")
        bare, auto = _worker("bare", path), _worker("auto", path)
        try:
            _round(bare, what, n // 10)
            _round(auto, what, n // 10)
            ratios, b_ns, a_ns = [], [], []
            for _ in range(rounds):
                b = _round(bare, what, n)
                a = _round(auto, what, n)
                ratios.append(a / b)
                b_ns.append(b * 1e9)
                a_ns.append(a * 1e9)
        finally:
            for p in (bare, auto):
                assert p.stdin is not None
                p.stdin.close()
                p.wait()
    name = {"file": "open/close of a file", "socket": "create/close of a socket"}[what]
    return Result(f"auto_{what}_ratio", statistics.median(ratios), "x", "<= 1.5",
                  f"{name}, instrumented vs bare: {statistics.median(a_ns):,.0f} vs {statistics.median(b_ns):,.0f} "
                  f"ns/op (median of {rounds} interleaved rounds of {n:,})")  # fmt: skip


def run_all(quick: bool) -> list[Result]:
    n, rounds = (2_000, 3) if quick else (50_000, 9)
    return [bench_auto("file", n, rounds), bench_auto("socket", n, rounds)]


if __name__ == "__main__":
    from common import print_table

    print_table(run_all("--quick" in sys.argv), "--quick" in sys.argv)
