# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import os
import time

from withscope.core import track

f = track(open(__file__))
time.sleep(0.3)
os._exit(3)
