# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import sys

from withscope.core import track

f = track(open(__file__))
sys.exit(4)
