"""A CPU-bound function, for the CPU-share benchmark and tests: no I/O, only work.

Event: ``{"iterations": N}`` spins one thread through N steps of integer arithmetic (pure Python);
``{"threads": T, "rounds": R}`` has T threads each hash a 1 MB buffer R times (hashlib lets go of the GIL,
so the threads really run at once). Returns the CPU and wall time the work took, as the function saw them.
With the environment variable INIT_ITERATIONS the module spins that many steps when it loads (INIT).
"""

import hashlib
import os
import threading
import time

_BUFFER = bytes(range(256)) * 4096  # 1 MB


def _spin(iterations):
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


_spin(int(os.environ.get("INIT_ITERATIONS", "0")))  # work in the INIT phase, if asked for


def _hash(rounds):
    for _ in range(rounds):
        hashlib.sha256(_BUFFER).digest()


def lambda_handler(event, context):
    threads = int(event.get("threads", 1))
    cpu, wall = time.process_time(), time.perf_counter()
    if threads <= 1 and "rounds" not in event:
        _spin(int(event.get("iterations", 1_000_000)))
    else:
        workers = [
            threading.Thread(target=_hash, args=(int(event.get("rounds", 100)),)) for _ in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return {
        "cpu_ms": (time.process_time() - cpu) * 1000,
        "wall_ms": (time.perf_counter() - wall) * 1000,
        "threads": threads,
    }
