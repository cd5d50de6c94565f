"""Stopping a run (what closing the app does) builds objects only for the lifetimes a rule can
report on, whatever the length of the history: the final rules and the final snapshot read the
recorder's columns. Before, every lifetime of the run became an object twice (final rules, then
the snapshot): closing the app after a 5-minute run froze it for 25-55 s."""

from __future__ import annotations

import asyncio
import threading

import pytest
from plain_cm import PlainCM
from withscope.core import lifetime_table, snapshot
from withscope.core.events import Lifetime
from withscope.core.recorder import current_recorder
from withscope.core.runner import Run, RunOptions
from withscope.core.targets import Target
from withscope.core.track import track


def _built_at_close(n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Lifetimes of a run of `n` released blocks and one held one, cancelled while it waits;
    returns (lifetimes in its snapshot, Lifetime objects built from the cancel to the snapshot)."""
    ready = threading.Event()

    def history_then_wait(ctx: object) -> None:
        rec = current_recorder()
        for i in range(n):
            with track(PlainCM()):
                pass
            if i % 5000 == 0:
                rec.drain()
        held = track(PlainCM()).__enter__()
        ready.set()
        ctx.stop.wait(30)  # type: ignore[attr-defined]
        held.__exit__(None, None, None)

    built = [0]

    def counting(*args: object, **kwargs: object) -> Lifetime:
        built[0] += 1
        return Lifetime(*args, **kwargs)  # type: ignore[arg-type]

    async def main() -> int:
        run = Run(Target("history", history_then_wait, False, True), RunOptions(drain_interval_s=0.05)).start()
        await asyncio.to_thread(ready.wait, 30)
        await asyncio.sleep(0.1)  # the live drains have folded the history
        monkeypatch.setattr(snapshot, "Lifetime", counting)
        monkeypatch.setattr(lifetime_table, "Lifetime", counting)
        run.cancel()
        snap = await run.wait()
        return len(snap.lifetimes)

    total = asyncio.run(main())
    return total, built[0]


def test_the_work_done_at_close_does_not_grow_with_the_history(monkeypatch: pytest.MonkeyPatch) -> None:
    small_total, small_built = _built_at_close(2_000, monkeypatch)
    big_total, big_built = _built_at_close(20_000, monkeypatch)
    assert (small_total, big_total) == (2_001, 20_001)
    assert big_built == small_built
    assert big_built < 10
