# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# The same helper, closing the file itself.
def first_line(path: str) -> str:
    with open(path) as f:
        return f.readline().strip()


print("first:", first_line(__file__))
