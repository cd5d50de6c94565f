# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# Temporary files and folders removed on every path.
import os
import tempfile

with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "x.txt"), "w") as f:
        f.write("data")
    with tempfile.NamedTemporaryFile() as t:
        t.write(b"data")
fd, path = tempfile.mkstemp()
try:
    os.write(fd, b"data")
finally:
    os.close(fd)
    os.remove(path)
print("clean")
