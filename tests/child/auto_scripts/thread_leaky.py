# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# A worker thread started and still running when the main code is over (never joined).
import threading
import time

stop = threading.Event()
worker = threading.Thread(target=stop.wait, args=(0.6,), name="poller")
worker.start()  # LEAK
time.sleep(0.1)
print("main done")
