"""The GUI's task keeper holds every task it is given until it ends and surfaces a failure once:
logged, and reported unless the window has shut down."""

from __future__ import annotations

import asyncio

from withscope.gui.model.tasks import TaskKeeper


def test_a_failed_task_is_reported_and_let_go_and_a_quiet_keeper_only_logs() -> None:
    reported: list[str] = []
    quiet = [False]
    keeper = TaskKeeper(reported.append, lambda: quiet[0])

    async def boom() -> None:
        raise ValueError("boom")

    async def scenario() -> None:
        keeper.keep(asyncio.get_running_loop().create_task(boom(), name="t1"))
        assert len(keeper) == 1
        await asyncio.sleep(0.01)
        quiet[0] = True
        keeper.keep(asyncio.get_running_loop().create_task(boom(), name="t2"))
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert reported == ["Internal error in t1: ValueError('boom')"]
    assert len(keeper) == 0


def test_cancel_all_cancels_what_is_still_running() -> None:
    keeper = TaskKeeper(lambda _text: None, lambda: False)

    async def scenario() -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(asyncio.sleep(10))
        keeper.keep(task)
        keeper.cancel_all()
        await asyncio.sleep(0)
        return task

    assert asyncio.run(scenario()).cancelled()
