#!/usr/bin/env python3
"""The peer of process_pool_bench: the same workloads on Python's ProcessPoolExecutor.

Prints one JSON object: benchmark name -> median nanoseconds per item (and the round
trip's p99). Python breaks the whole pool when a worker dies, so "crash to a usable
pool" is the crash plus building a new pool and its first result.
"""
import concurrent.futures as cf
import json
import os
import signal
import statistics
import subprocess
import sys
import time


def noop():
    return None


def square(x):
    return x * x


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def median_of(repetitions, measure):
    return statistics.median(measure() for _ in range(repetitions))


def start_to_first_result():
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(2) as pool:
        pool.submit(noop).result()
        took = time.perf_counter() - start
    return took * 1e9


def main():
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    out = {"PY_ProcessPool_StartToFirstResult": median_of(repetitions, start_to_first_result)}
    with cf.ProcessPoolExecutor(2) as pool:
        pool.submit(noop).result()
        samples = []
        for _ in range(2000):
            start = time.perf_counter()
            pool.submit(noop).result()
            samples.append((time.perf_counter() - start) * 1e9)
        samples.sort()
        out["PY_ProcessPool_RoundTrip"] = statistics.median(samples)
        out["PY_ProcessPool_RoundTrip_p99"] = samples[len(samples) * 99 // 100]

        # The same with two busy processes competing for the two cores.
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        try:
            loaded = []
            for _ in range(1000):
                start = time.perf_counter()
                pool.submit(noop).result()
                loaded.append((time.perf_counter() - start) * 1e9)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        loaded.sort()
        out["PY_ProcessPool_RoundTripUnderLoad"] = statistics.median(loaded)
        out["PY_ProcessPool_RoundTripUnderLoad_p99"] = loaded[len(loaded) * 99 // 100]

        def unbatched(n=20_000):
            start = time.perf_counter()
            futures = [pool.submit(square, i) for i in range(n)]
            for f in futures:
                f.result()
            return (time.perf_counter() - start) * 1e9 / n

        out["PY_ProcessPool_Unbatched"] = median_of(repetitions, unbatched)

        def chunked(n=100_000):
            start = time.perf_counter()
            sum(pool.map(square, range(n), chunksize=1000))
            return (time.perf_counter() - start) * 1e9 / n

        out["PY_ProcessPool_Map100kChunk1000"] = median_of(repetitions, chunked)

    def crash_to_usable():
        pool = cf.ProcessPoolExecutor(2)
        pool.submit(noop).result()
        start = time.perf_counter()
        try:
            pool.submit(die).result()
        except cf.process.BrokenProcessPool:
            pass
        pool.shutdown(wait=True)
        with cf.ProcessPoolExecutor(2) as fresh:
            fresh.submit(noop).result()
        return (time.perf_counter() - start) * 1e9

    out["PY_ProcessPool_CrashToUsablePool"] = median_of(repetitions, crash_to_usable)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
