# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
from withscope.core import track

f = track(open(__file__))
block = bytearray(2 * 1024**3)
for i in range(0, len(block), 1 << 16):
    block[i] = 1
while True:
    pass
