#!/usr/bin/env python3
"""The peer of loop_bench: the same workloads on asyncio and on uvloop (Debian's
python3-uvloop), run with /usr/bin/python3.

  python_peer.py [REPETITIONS]   prints one JSON object: name -> median ns per item
                                 (bytes per task for the *_BytesPerTask entries)
  python_peer.py serve-echo      serves TCP echo with uvloop on 127.0.0.1, prints its
                                 port, and exits at the end of its stdin
"""
import asyncio
import json
import statistics
import sys
import time
import tracemalloc

import uvloop

LOOPS = {"Asyncio": asyncio.new_event_loop, "Uvloop": uvloop.new_event_loop}


def median_ns(repetitions, make_loop, workload, items):
    samples = []
    for _ in range(repetitions):
        loop = make_loop()
        try:
            start = time.perf_counter()
            loop.run_until_complete(workload(loop))
            samples.append((time.perf_counter() - start) * 1e9 / items)
        finally:
            loop.close()
    return statistics.median(samples)


async def call_soon_1m(loop):
    done = loop.create_future()
    count = [0]

    def tick():
        count[0] += 1
        if count[0] == 1_000_000:
            done.set_result(None)

    for _ in range(1_000_000):
        loop.call_soon(tick)
    await done


async def resume_100k(loop):
    for _ in range(100_000):
        await asyncio.sleep(0)


async def timers_100k(loop):
    done = loop.create_future()
    count = [0]

    def tick():
        count[0] += 1
        if count[0] == 100_000:
            done.set_result(None)

    for i in range(100_000):
        loop.call_later((i % 1000) * 1e-6, tick)
    await done


def sleeping_tasks(make_loop, n):
    """Seconds to create n tasks sleeping 100 ms, and traced bytes per task."""
    loop = make_loop()
    try:
        async def main():
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            start = time.perf_counter()
            tasks = [asyncio.ensure_future(asyncio.sleep(0.1)) for _ in range(n)]
            await asyncio.sleep(0)
            seconds = time.perf_counter() - start
            used = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            await asyncio.gather(*tasks)
            return seconds, used / n
        return loop.run_until_complete(main())
    finally:
        loop.close()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve_echo():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    server.close()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "serve-echo":
        uvloop.install()
        asyncio.run(serve_echo())
        return
    repetitions = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    out = {}
    for name, make_loop in LOOPS.items():
        out[f"PY_{name}_CallSoon1M"] = median_ns(repetitions, make_loop, call_soon_1m, 1_000_000)
        out[f"PY_{name}_Resume"] = median_ns(repetitions, make_loop, resume_100k, 100_000)
        out[f"PY_{name}_Timers"] = median_ns(repetitions, make_loop, timers_100k, 100_000)
        for n in (10_000, 100_000, 1_000_000):
            runs = [sleeping_tasks(make_loop, n) for _ in range(max(1, repetitions // 2))]
            out[f"PY_{name}_SleepingTasks/{n}"] = statistics.median(r[0] for r in runs) * 1e9 / n
            out[f"PY_{name}_SleepingTasks_BytesPerTask/{n}"] = statistics.median(r[1] for r in runs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
