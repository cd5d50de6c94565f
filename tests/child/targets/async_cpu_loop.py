# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import asyncio

from withscope.core import track


async def main() -> None:
    _held = track(open(__file__))
    while True:
        pass


asyncio.run(main())
