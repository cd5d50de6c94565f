# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# Starts a child process and waits for it.
import subprocess
import sys

with subprocess.Popen([sys.executable, "-c", "print('child says hi')"], stdout=subprocess.PIPE, text=True) as p:
    out, _ = p.communicate()
print("child:", out.strip(), "code", p.returncode)
