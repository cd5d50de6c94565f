# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# Reads every line count of a few files; the handles are never closed.
import sys

counts = []
handles = []
for name in [__file__] * 3:
    f = open(name)  # LEAK
    handles.append(f)
    counts.append(len(f.readlines()))
print("lines", counts)
sys.exit(0)
