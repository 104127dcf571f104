// ProcessPool benchmarks; bench/process/python_peer.py measures the same workloads with
// Python's ProcessPoolExecutor and bench/run.py prints the ratios.
#include <concur/process/process_pool.hpp>

#include <benchmark/benchmark.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void noop() {}
int square(int x) { return x * x; }
int die() {
  ::raise(SIGKILL);
  return 0;
}

// Pool construction to the first result, 2 workers.
void BM_ProcessPool_StartToFirstResult(benchmark::State& state) {
  for (auto _ : state) {
    concur::ProcessPool pool(2);
    pool.submit(noop).get();
    state.PauseTiming();
    pool.shutdown();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ProcessPool_StartToFirstResult)->UseRealTime()->Unit(benchmark::kMicrosecond);

// submit(noop).get() on an idle pool; the counters median_us and p99_us are the
// percentiles (the time column is the mean).
void BM_ProcessPool_RoundTrip(benchmark::State& state) {
  concur::ProcessPool pool(2);
  pool.submit(noop).get();
  std::vector<double> samples;
  for (auto _ : state) {
    const auto start = Clock::now();
    pool.submit(noop).get();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(samples.begin(), samples.end());
  state.counters["median_us"] = samples[samples.size() / 2];
  state.counters["p99_us"] = samples[samples.size() * 99 / 100];
}
BENCHMARK(BM_ProcessPool_RoundTrip)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The same round trip with two busy threads competing for the two cores (another
// program's work, as on a shared node). A waiter that polls while it cannot keep a
// core waits for a time slice (~4 ms here); concur's waits stop polling then.
void BM_ProcessPool_RoundTripUnderLoad(benchmark::State& state) {
  concur::ProcessPool pool(2);
  pool.submit(noop).get();
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;  // started after the pool, whose zygote forks alone
  for (int i = 0; i < 2; ++i) {
    hogs.emplace_back([&stop] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  std::vector<double> samples;
  for (auto _ : state) {
    const auto start = Clock::now();
    pool.submit(noop).get();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  stop = true;
  for (auto& hog : hogs) hog.join();
  std::sort(samples.begin(), samples.end());
  state.counters["median_us"] = samples[samples.size() / 2];
  state.counters["p99_us"] = samples[samples.size() * 99 / 100];
}
BENCHMARK(BM_ProcessPool_RoundTripUnderLoad)->UseRealTime()->Unit(benchmark::kMicrosecond);

// 100,000 tiny tasks, each its own submit, then all results. One untimed round first,
// as python_peer.py's median of repetitions leaves out its first: the first 100,000
// tasks of a process grow its heap by ~25 MB, and on a paravirtualised guest the ~6,000
// page faults of that growth cost more than the tasks (4-5 µs a task instead of 1.5).
void BM_ProcessPool_Unbatched100k(benchmark::State& state) {
  concur::ProcessPool pool(2);
  constexpr int kTasks = 100'000;
  const auto round = [&pool] {
    std::vector<concur::Future<int>> futures;
    futures.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) futures.push_back(pool.submit(square, i));
    for (auto& f : futures) benchmark::DoNotOptimize(f.get());
  };
  round();
  for (auto _ : state) round();
  state.SetItemsProcessed(state.iterations() * kTasks);
}
BENCHMARK(BM_ProcessPool_Unbatched100k)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same 100,000 items through map with chunksize 1000.
void BM_ProcessPool_Map100kChunk1000(benchmark::State& state) {
  concur::ProcessPool pool(2);
  pool.submit(noop).get();
  std::vector<int> inputs(100'000);
  std::iota(inputs.begin(), inputs.end(), 0);
  for (auto _ : state) {
    long sum = 0;
    for (int y : pool.map(square, inputs, {.chunksize = 1000})) sum += y;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(inputs.size()));
}
BENCHMARK(BM_ProcessPool_Map100kChunk1000)->UseRealTime()->Unit(benchmark::kMillisecond);

// A worker dies in a task; time until the pool has answered the next task.
void BM_ProcessPool_CrashToUsablePool(benchmark::State& state) {
  concur::ProcessPool pool(2);
  pool.submit(noop).get();
  for (auto _ : state) {
    try {
      pool.submit(die).get();
    } catch (const concur::WorkerDied&) {
    }
    pool.submit(noop).get();
  }
}
BENCHMARK(BM_ProcessPool_CrashToUsablePool)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
