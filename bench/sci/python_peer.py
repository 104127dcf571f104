#!/usr/bin/env python3
"""The peer of sci_bench: array hand-off to a worker process with
multiprocessing.shared_memory + numpy and by pickling, and numpy's Generator filling
uniform doubles. Run with Debian's /usr/bin/python3 (python3-numpy).

Prints one JSON object: benchmark name -> median nanoseconds per item (per hand-off, per
double).
"""
import concurrent.futures as cf
import json
import statistics
import sys
import time
from multiprocessing import resource_tracker, shared_memory

import numpy as np

MIB = 1 << 20
SIZES = [MIB, 32 * MIB, 1024 * MIB]


def first_shared(name, count):
    shm = shared_memory.SharedMemory(name=name)
    # Attaching registers the segment with this worker's resource tracker, which would
    # unlink it (and warn) at exit although the parent owns it (CPython bpo-39959).
    resource_tracker.unregister(shm._name, "shared_memory")  # pylint: disable=protected-access
    try:
        return float(np.ndarray((count,), dtype=np.float64, buffer=shm.buf)[0])
    finally:
        shm.close()


def first_of_copy(array):
    return float(array[0])


def timed(repetitions, call):
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e9)
    return statistics.median(samples)


def main():
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    out = {}
    with cf.ProcessPoolExecutor(1) as pool:
        pool.submit(first_of_copy, np.ones(1)).result()
        for size in SIZES:
            count = size // 8
            shm = shared_memory.SharedMemory(create=True, size=size)
            try:
                array = np.ndarray((count,), dtype=np.float64, buffer=shm.buf)
                array[:] = 1.0
                # Hand-offs are short: many per sample, as Google Benchmark does.
                inner = 50 if size <= 32 * MIB else 20
                out[f"PY_SharedMemory_Handoff/{size}"] = timed(
                    repetitions,
                    lambda: [pool.submit(first_shared, shm.name, count).result() for _ in range(inner)]) / inner
                pickled_reps = max(1, repetitions if size <= 32 * MIB else 2)
                out[f"PY_Pickle_Handoff/{size}"] = timed(
                    pickled_reps, lambda: pool.submit(first_of_copy, array).result())
                del array
            finally:
                shm.close()
                shm.unlink()
    generator = np.random.default_rng(1)
    doubles = np.empty(1 << 20)
    generator.random(out=doubles)
    out["PY_Numpy_RandomFill"] = timed(repetitions * 4, lambda: generator.random(out=doubles)) / doubles.size
    floats = np.empty(1 << 20, dtype=np.float32)
    out["PY_Numpy_RandomFillFloat"] = timed(
        repetitions * 4, lambda: generator.random(out=floats, dtype=np.float32)) / floats.size

    def monte_carlo_pi(dtype):
        x = np.empty(4096, dtype=dtype)
        y = np.empty(4096, dtype=dtype)
        inside = 0
        for _ in range((1 << 20) // 4096):
            generator.random(out=x, dtype=dtype)
            generator.random(out=y, dtype=dtype)
            inside += int(np.count_nonzero(x * x + y * y < 1))
        return inside

    for dtype, name in ((np.float64, "Double"), (np.float32, "Float")):
        out[f"PY_Numpy_MonteCarloPi_Bulk{name}"] = timed(repetitions, lambda: monte_carlo_pi(dtype)) / (1 << 20)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
