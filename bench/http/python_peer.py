#!/usr/bin/env python3
"""The Python peers of http_bench, run by it with /usr/bin/python3 against the server it
started, so that every client hits the same server in the same run.

  python_peer.py MODE URL REQUESTS CONCURRENCY

MODE is aiohttp (on asyncio), aiohttp-uvloop, or requests-threads (a requests.Session per
thread of a ThreadPoolExecutor, the usual blocking form). REQUESTS GETs of URL go out,
CONCURRENCY at a time, each body read in full and its status checked. Prints the seconds
the requests took (not the interpreter's start-up) on one line.
"""
import asyncio
import concurrent.futures
import sys
import threading
import time


async def fetch_with_aiohttp(url, requests, concurrency):
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(count):
            for _ in range(count):
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url}: status {response.status}")

        shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
        start = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in shares))
        return time.perf_counter() - start


def fetch_with_requests(url, requests_count, concurrency):
    import requests

    local = threading.local()

    def fetch(_):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: status {response.status_code}")
        return len(response.content)

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        start = time.perf_counter()
        for _ in pool.map(fetch, range(requests_count)):
            pass
        return time.perf_counter() - start


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    mode, url, requests, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if requests < 1 or concurrency < 1:
        sys.exit("python_peer.py: REQUESTS and CONCURRENCY must be >= 1")
    if mode == "aiohttp":
        seconds = asyncio.run(fetch_with_aiohttp(url, requests, concurrency))
    elif mode == "aiohttp-uvloop":
        import uvloop

        uvloop.install()
        seconds = asyncio.run(fetch_with_aiohttp(url, requests, concurrency))
    elif mode == "requests-threads":
        seconds = fetch_with_requests(url, requests, concurrency)
    else:
        sys.exit(f"python_peer.py: unknown mode {mode!r} (aiohttp, aiohttp-uvloop, requests-threads)")
    print(f"{seconds:.6f}", flush=True)


if __name__ == "__main__":
    main()
