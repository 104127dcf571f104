#!/usr/bin/env python3
"""Runs concur's benchmarks and prints medians and concur/peer ratios.

Usage: bench/run.py BUILD_DIR [--repetitions N] [--filter REGEX]

Each benchmark binary first measures the two-thread parallelism; figures are medians
of N repetitions (these machines are noisy: never trust a single run). A ratio below
1.0 means concur took less time than the peer.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

# (workload, concur benchmark, peer benchmark) — ratios are concur time / peer time.
PAIRS = [
    ("1M empty tasks", "BM_ThreadPool_EmptyTasks1M", "BM_TBB_TaskGroup_EmptyTasks1M"),
    ("submit+get, per task", "BM_ThreadPool_SubmitGet100k", "BM_StdAsync_SubmitGet10k"),
    ("idle round trip", "BM_ThreadPool_RoundTrip", "BM_SpinPingPong_RoundTrip"),
    ("idle round trip", "BM_ThreadPool_RoundTrip", "BM_FloorQueue_RoundTrip"),
    ("idle round trip", "BM_ThreadPool_RoundTrip", "BM_TBB_TaskGroup_RoundTrip"),
    ("idle round trip", "BM_ThreadPool_RoundTrip", "BM_StdAsync_RoundTrip"),
    ("fib(30)", "BM_ThreadPool_Fib30", "BM_TBB_TaskGroup_Fib30"),
    ("fib(30)", "BM_ThreadPool_Fib30", "BM_Sequential_Fib30"),
    ("process start->result", "BM_ProcessPool_StartToFirstResult", "PY_ProcessPool_StartToFirstResult"),
    ("process round trip", "BM_ProcessPool_RoundTrip", "PY_ProcessPool_RoundTrip"),
    ("round trip, 2 busy loops", "BM_ProcessPool_RoundTripUnderLoad", "PY_ProcessPool_RoundTripUnderLoad"),
    ("process tiny task", "BM_ProcessPool_Unbatched100k", "PY_ProcessPool_Unbatched"),
    ("process map chunk 1000", "BM_ProcessPool_Map100kChunk1000", "PY_ProcessPool_Map100kChunk1000"),
    ("process crash->usable", "BM_ProcessPool_CrashToUsablePool", "PY_ProcessPool_CrashToUsablePool"),
    ("hand-off 1 MiB", "BM_SharedArray_Handoff/1048576", "PY_SharedMemory_Handoff/1048576"),
    ("hand-off 1 GiB", "BM_SharedArray_Handoff/1073741824", "PY_SharedMemory_Handoff/1073741824"),
    ("hand-off 1 MiB", "BM_SharedArray_Handoff/1048576", "PY_Pickle_Handoff/1048576"),
    ("hand-off 1 GiB", "BM_SharedArray_Handoff/1073741824", "PY_Pickle_Handoff/1073741824"),
    ("hand-off 1 GiB", "BM_SharedArray_Handoff/1073741824", "BM_ByValue_Handoff/1073741824"),
    ("worker sum vs local", "BM_SharedArray_WorkerSum/268435456", "BM_LocalSum/268435456"),
    ("uniform doubles", "BM_Random_FillUniform", "PY_Numpy_RandomFill"),
    ("uniform floats", "BM_Random_FillUniformFloat", "PY_Numpy_RandomFillFloat"),
    ("MC pi, doubles", "BM_MonteCarloPi_BulkDouble", "PY_Numpy_MonteCarloPi_BulkDouble"),
    ("MC pi, floats", "BM_MonteCarloPi_BulkFloat", "PY_Numpy_MonteCarloPi_BulkFloat"),
    ("loop call_soon", "BM_Loop_CallSoon1M", "PY_Uvloop_CallSoon1M"),
    ("loop call_soon", "BM_Loop_CallSoon1M", "PY_Asyncio_CallSoon1M"),
    ("loop resume (yield)", "BM_Loop_Resume", "PY_Uvloop_Resume"),
    ("loop timer fired", "BM_Loop_Timers1M", "PY_Uvloop_Timers"),
    ("spawn sleeping task", "BM_Loop_SleepingTasks/1000000", "PY_Uvloop_SleepingTasks/1000000"),
    ("bytes per task", "BM_Loop_SleepingTasks_BytesPerTask/1000000", "PY_Uvloop_SleepingTasks_BytesPerTask/1000000"),
    ("echo 1 KiB, 1 conn", "BM_Echo_Concur/1", "BM_Echo_Uvloop/1"),
    ("echo 1 KiB, 100 conns", "BM_Echo_Concur/100", "BM_Echo_Uvloop/100"),
    ("10k GETs, c=10", "BM_Http_Concur/10", "BM_Http_CurlMulti/10"),
    ("10k GETs, c=100", "BM_Http_Concur/100", "BM_Http_CurlMulti/100"),
    ("10k GETs, c=10", "BM_Http_Concur/10", "PY_Aiohttp/10"),
    ("10k GETs, c=100", "BM_Http_Concur/100", "PY_Aiohttp/100"),
    ("10k GETs, c=10", "BM_Http_Concur/10", "PY_AiohttpUvloop/10"),
    ("10k GETs, c=100", "BM_Http_Concur/100", "PY_AiohttpUvloop/100"),
    ("10k GETs, threads=10", "BM_Http_ThreadPool/10", "PY_Requests_ThreadPool/10"),
    ("10k GETs, threads=100", "BM_Http_ThreadPool/100", "PY_Requests_ThreadPool/100"),
    ("wrk, 10 conns", "BM_Wrk_ConcurServe/10", "BM_Wrk_Nginx/10"),
    ("wrk, 100 conns", "BM_Wrk_ConcurServe/100", "BM_Wrk_Nginx/100"),
]
BINARIES = ["bench/thread_pool_bench", "bench/process_pool_bench", "bench/sci_bench", "bench/loop_bench",
            "bench/http_bench"]  # http_bench runs its Python peers itself, against its nginx
# (script, interpreter, benchmark names it serves): numpy comes from Debian's python3.
PYTHON_PEERS = [
    ("bench/process/python_peer.py", sys.executable, "Process"),
    ("bench/sci/python_peer.py", "/usr/bin/python3", "SharedArray|ByValue|Random|Sum|Monte"),
    ("bench/loop/python_peer.py", "/usr/bin/python3", "Loop|Sleeping"),
]


def per_item_ns(row):
    """Nanoseconds per item when the benchmark counts items, else per iteration."""
    if "items_per_second" in row and row["items_per_second"] > 0:
        return 1e9 / row["items_per_second"]
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[row.get("time_unit", "ns")]
    return row["real_time"] * scale


def run(binary, repetitions, bench_filter):
    cmd = [str(binary), "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
           "--benchmark_report_aggregates_only=true", f"--benchmark_filter={bench_filter}"]
    print("$", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    if not out.strip():  # the filter matched none of this binary's benchmarks
        return {"benchmarks": [], "context": {"parallelism": "nan"}}
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=pathlib.Path)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--filter", default=".")
    args = parser.parse_args()

    medians = {}
    for name in BINARIES:
        binary = args.build_dir / name
        if not binary.exists():
            sys.exit(f"bench/run.py: {binary} is missing; build the release preset first")
        report = run(binary, args.repetitions, args.filter)
        print(f"{name}: parallelism probe {float(report['context']['parallelism']):.2f}x "
              f"(2.0 = two free cores)")
        for row in report["benchmarks"]:
            if row.get("aggregate_name") == "median":
                name = re.sub(r"(/iterations:\d+)?/(real|manual)_time$", "", row["run_name"])
                medians[name] = per_item_ns(row)
                if "bytes_per_task" in row:  # a memory figure, not a time
                    medians[name.replace("/", "_BytesPerTask/", 1)] = row["bytes_per_task"]

    source = pathlib.Path(__file__).resolve().parent.parent
    for script, interpreter, serves in PYTHON_PEERS:
        if args.filter != "." and not re.search(args.filter, serves):
            continue
        print("$", interpreter, script, file=sys.stderr)
        out = subprocess.run([interpreter, str(source / script), str(args.repetitions)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        medians.update(json.loads(out))

    print(f"\n{'benchmark (median)':<34} {'ns per item':>14}   (*_BytesPerTask: bytes)")
    for name, ns in medians.items():
        print(f"{name:<34} {ns:>14,.1f}")
    print(f"\n{'workload':<22} {'concur':<28} {'peer':<31} {'concur/peer':>11}")
    for workload, ours, peer in PAIRS:
        if ours in medians and peer in medians:
            print(f"{workload:<22} {ours:<28} {peer:<31} {medians[ours] / medians[peer]:>11.3g}")


if __name__ == "__main__":
    main()
