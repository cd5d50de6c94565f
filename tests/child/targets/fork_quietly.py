# ruff: noqa  (forks with or without a thread of its own, as argv[1] says)
import os
import sys
import threading
import time

if sys.argv[1] == "with-thread":
    threading.Thread(target=time.sleep, args=(1,), daemon=True).start()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
