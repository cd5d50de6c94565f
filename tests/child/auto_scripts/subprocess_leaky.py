# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# Starts a child process and never waits for it.
import subprocess
import sys


def start() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])  # LEAK


proc = start()
print("started")
