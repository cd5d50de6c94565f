# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# Worker threads and a pool, all joined or shut down.
import threading
from concurrent.futures import ThreadPoolExecutor

results: list[int] = []
threads = [threading.Thread(target=results.append, args=(i,)) for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with ThreadPoolExecutor(max_workers=2) as pool:
    squares = list(pool.map(lambda x: x * x, range(4)))
print("results", sorted(results), squares)
