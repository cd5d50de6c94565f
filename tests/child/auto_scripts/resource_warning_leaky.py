# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# A file opened in a helper and dropped unclosed: the garbage collector closes it.
def first_line(path: str) -> str:
    f = open(path)  # LEAK
    return f.readline().strip()


print("first:", first_line(__file__))
