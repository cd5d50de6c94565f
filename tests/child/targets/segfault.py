# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import ctypes
import time

from withscope.core import track

f = track(open(__file__))
time.sleep(0.3)  # the drain thread sends the acquisition before the crash
ctypes.string_at(0)
