# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# A temporary file made with mkstemp and left behind (fd closed, path never removed).
import os
import tempfile

fd, path = tempfile.mkstemp(suffix=".withscope-test")  # LEAK
os.write(fd, b"data")
os.close(fd)
print("wrote", os.path.getsize(path), "bytes")
