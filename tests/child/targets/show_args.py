# ruff: noqa  (a deliberately hostile program: it leaks, spins, blocks and crashes on purpose)
import json
import signal
import sys
import threading

from withscope.core import track

# Everything `python show_args.py ARGS` would see, written where the test says.
signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # works only on the main thread
with track(open(sys.argv[1], "w")) as out:
    json.dump({"argv": sys.argv, "name": __name__, "main_thread": threading.current_thread() is threading.main_thread(),
               "path0": sys.path[0]}, out)
