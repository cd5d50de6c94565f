# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# Reads every line count of a few files, each closed by its `with`.
import io

counts = []
for name in [__file__] * 3:
    with open(name) as f:
        assert type(f) is io.TextIOWrapper and isinstance(f, io.TextIOBase)
        counts.append(len(f.readlines()))
print("lines", counts, type(open.__name__).__name__)
