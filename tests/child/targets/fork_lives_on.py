# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import os
import sys
import time

from withscope.core import track

f = track(open(__file__))
pid = os.fork()
if pid == 0:
    time.sleep(120)
    os._exit(0)
with open(sys.argv[1], "w") as out:  # the test reads the forked pid here
    out.write(str(pid))
