# ruff: noqa  (a small program: reads a line from stdin and prints it back)
line = input()
print(f"got {line}")
