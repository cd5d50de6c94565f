# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import asyncio
import time

from withscope.core import track


async def main() -> None:
    _held = track(open(__file__))
    time.sleep(60)


asyncio.run(main())
