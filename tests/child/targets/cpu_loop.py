# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
from withscope.core import track

f = track(open(__file__))
while True:
    pass
