# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import threading
import time

from withscope.core import track


def forever() -> None:
    while True:
        time.sleep(0.05)


f = track(open(__file__))
threading.Thread(target=forever, name="never-ends").start()
