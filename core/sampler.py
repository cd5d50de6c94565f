"""`Sampler`: psutil readings of one process (this one by default) as an asyncio task.

Every `interval_s` (default 0.1 s, i.e. 10 Hz) it reads, inside `Process.oneshot()`: RSS, open
fds, threads and CPU % (~80 us together). Network connections (`net_connections("inet")`,
~7-9 ms because it parses /proc/net for the whole system) are read at most once per
`connections_every_s` (1 s); other samples reuse the last count. So the loop is never blocked
for more than one such read.

Thread-safety: `start()`, `stop()`, `sample_now()` and `subscribe()` belong to the event-loop
thread that runs the sampler; `latest()` and `history()` may be called from any thread (they
read a deque snapshot). Subscribers run on the loop thread, must be quick, and an exception in
one is logged and ignored. `AccessDenied` on a metric leaves it at its last value (0 before any);
`NoSuchProcess` ends sampling (`gone` becomes True). `start()` twice is a no-op; a stopped
sampler can be started again.

    sampler = Sampler(interval_s=0.1)
    sampler.start()                # needs a running loop
    unsubscribe = sampler.subscribe(lambda s: ...)
    ...
    await sampler.stop()           # awaits the task
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable

import psutil

from .events import Sample

log = logging.getLogger("withscope")

DEFAULT_HISTORY = 36_000  # one hour at 10 Hz
# CPU % is CPU time over wall time across at least this window. The kernel counts CPU time in
# ticks (10 ms): over two reads 0.1 ms apart (the runner's extra reads, or psutil's priming call
# followed at once by the first sample) one tick is thousands of percent. Over 0.25 s a tick is 4 %.
CPU_WINDOW_S = 0.25


class Sampler:
    """Samples a process periodically; see the module docstring for the threading contract."""

    def __init__(
        self,
        interval_s: float = 0.1,
        *,
        pid: int | None = None,
        history: int = DEFAULT_HISTORY,
        connections_every_s: float = 1.0,
        tree: bool = False,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.connections_every_s = connections_every_s
        self.pid = os.getpid() if pid is None else pid
        # tree=True: every figure sums the process and all its descendants (an observed child and
        # what it forked or spawned); `tree_pids` collects every descendant pid seen.
        self.tree = tree
        self.tree_pids: set[int] = set()
        self._kids: dict[int, psutil.Process] = {}
        self._proc: psutil.Process | None = None
        self._history: deque[Sample] = deque(maxlen=history)
        self._subscribers: list[Callable[[Sample], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._last = (0, 0, 0, 0)  # rss, fds, threads, connections
        self._conn_at = -1e18  # monotonic time of the last connections read
        # CPU %: the window's start (perf_counter s) and each process's CPU seconds then; a process
        # first seen inside a window counts from that moment (its earlier CPU time is not ours).
        self._cpu_at: float | None = None
        self._cpu_base: dict[int, float] = {}
        self._cpu = 0.0
        self.gone = False
        self.cost_ns = 0  # total time spent reading psutil (for measuring the sampler's own cost)
        self.reads = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the sampling task on the running loop (no-op when already running)."""
        if self.running:
            return
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="withscope-sampler")

    async def stop(self) -> None:
        """Stop sampling and await the task (safe to call when not running)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cur = asyncio.current_task()
            if cur is not None and cur.cancelling():
                raise  # we are being cancelled ourselves, not just our task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while not self.gone:
            self.sample_now()
            next_t += self.interval_s
            now = loop.time()
            if next_t < now:  # fell behind (a blocked loop): skip the missed ticks, no burst
                next_t = now + self.interval_s
            await asyncio.sleep(next_t - now)

    # --------------------------------------------------------------------- reading
    def sample_now(self, *, connections: bool = False) -> Sample | None:
        """Take one sample now (also recorded and published). `connections=True` forces a fresh
        connection count (the runner does it at repeat boundaries). None once the process is gone."""
        if self.gone:
            return None
        t0 = time.perf_counter_ns()
        try:
            if self._proc is None:
                self._proc = psutil.Process(self.pid)
            sample = self._read(self._proc, connections)
        except psutil.NoSuchProcess:
            self.gone = True
            return None
        except Exception:
            log.exception("withscope: sampler read failed")
            return None
        finally:
            self.cost_ns += time.perf_counter_ns() - t0
            self.reads += 1
        self._history.append(sample)
        for cb in list(self._subscribers):
            try:
                cb(sample)
            except Exception:
                log.exception("withscope: a sampler subscriber failed")
        return sample

    def _read(self, p: psutil.Process, force_connections: bool) -> Sample:
        rss, fds, threads, conns = self._last
        cpu_s: dict[int, float] = {}  # pid -> CPU seconds (user + system) so far
        with p.oneshot():
            if p.status() == psutil.STATUS_ZOMBIE:  # exited, not reaped yet: its figures read 0
                raise psutil.ZombieProcess(p.pid)
            with contextlib.suppress(psutil.AccessDenied):
                rss = p.memory_info().rss
            with contextlib.suppress(psutil.AccessDenied):
                fds = p.num_fds() if hasattr(p, "num_fds") else p.num_handles()
            with contextlib.suppress(psutil.AccessDenied):
                threads = p.num_threads()
            with contextlib.suppress(psutil.AccessDenied):
                t = p.cpu_times()
                cpu_s[p.pid] = t.user + t.system
        if self.tree:
            rss, fds, threads = self._add_descendants(p, rss, fds, threads, cpu_s)
        cpu = self._cpu_percent(cpu_s)
        now = time.monotonic()
        if force_connections or now - self._conn_at >= self.connections_every_s:
            try:
                getter = getattr(p, "net_connections", None) or p.connections
                conns = len(getter(kind="inet"))
            except psutil.AccessDenied:
                pass
            self._conn_at = now
        self._last = (rss, fds, threads, conns)
        return Sample(time.perf_counter_ns(), rss, fds, threads, conns, cpu)

    def _cpu_percent(self, cpu_s: dict[int, float]) -> float:
        """CPU % of the processes in `cpu_s` (pid -> CPU seconds now) over the last window of at
        least `CPU_WINDOW_S`; between window ends the last figure stands. 100 % = one core busy."""
        now = time.perf_counter()
        base = self._cpu_base
        for pid, seconds in cpu_s.items():
            base.setdefault(pid, seconds)  # first seen: counts from now
        if self._cpu_at is None:
            self._cpu_at = now
            return self._cpu
        dt = now - self._cpu_at
        if dt >= CPU_WINDOW_S:
            used = sum(max(0.0, seconds - base[pid]) for pid, seconds in cpu_s.items())
            self._cpu = round(100.0 * used / dt, 1)
            self._cpu_at = now
            self._cpu_base = dict(cpu_s)  # processes gone since are forgotten
        return self._cpu

    def _add_descendants(
        self, p: psutil.Process, rss: int, fds: int, threads: int, cpu_s: dict[int, float]
    ) -> tuple[int, int, int]:
        """Add the readings of `p`'s descendants (alive now) to the process's own, and their CPU
        seconds to `cpu_s`."""
        try:
            found = p.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return rss, fds, threads
        kids: dict[int, psutil.Process] = {}
        for child in found:
            known = self._kids.get(child.pid)
            proc = known if known is not None and known == child else child
            kids[child.pid] = proc
            self.tree_pids.add(child.pid)
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess), proc.oneshot():
                rss += proc.memory_info().rss
                fds += proc.num_fds() if hasattr(proc, "num_fds") else proc.num_handles()
                threads += proc.num_threads()
                t = proc.cpu_times()
                cpu_s[child.pid] = t.user + t.system
        self._kids = kids
        return rss, fds, threads

    # ------------------------------------------------------------------ consumers
    def latest(self) -> Sample | None:
        h = self._history
        return h[-1] if h else None

    def history(self, since_ns: int | None = None, until_ns: int | None = None) -> list[Sample]:
        """Samples in [since_ns, until_ns] (perf_counter_ns), oldest first."""
        items = list(self._history)
        if since_ns is not None:
            items = [s for s in items if s.t_ns >= since_ns]
        if until_ns is not None:
            items = [s for s in items if s.t_ns <= until_ns]
        return items

    def subscribe(self, callback: Callable[[Sample], None]) -> Callable[[], None]:
        """Call `callback(sample)` for every new sample (on the loop thread). Returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def mean_cost_us(self) -> float:
        """Mean wall time of one read, in microseconds (the sampler's own overhead)."""
        return self.cost_ns / self.reads / 1e3 if self.reads else 0.0
