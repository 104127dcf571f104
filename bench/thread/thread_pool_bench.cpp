// ThreadPool against its peers, side by side. Each workload runs on concur and on the
// peers; bench/run.py prints the ratios of the medians.
//
//   EmptyTasks1M   1,000,000 empty tasks: fire all, then wait for all
//   SubmitGet100k  100,000 future-returning submits, then get() each
//   RoundTrip      submit(f).get() on an idle pool (latency)
//   Fib30          recursive fib(30), one branch submitted, the other inline
#include <concur/thread/thread_pool.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#ifdef CONCUR_BENCH_HAVE_TBB
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#endif

namespace {

const std::size_t kWorkers = concur::ThreadPool::default_workers();

// ---- 1,000,000 empty tasks ------------------------------------------------------------
constexpr int kEmptyTasks = 1'000'000;

void BM_ThreadPool_EmptyTasks1M(benchmark::State& state) {
  concur::ThreadPool pool(kWorkers);
  std::vector<concur::Future<void>> futures;
  futures.reserve(kEmptyTasks);
  for (auto _ : state) {
    for (int i = 0; i < kEmptyTasks; ++i) futures.push_back(pool.submit([] {}));
    for (auto& f : futures) f.wait();
    futures.clear();
  }
  state.SetItemsProcessed(state.iterations() * kEmptyTasks);
}
BENCHMARK(BM_ThreadPool_EmptyTasks1M)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_TBB
void BM_TBB_TaskGroup_EmptyTasks1M(benchmark::State& state) {
  tbb::task_arena arena(static_cast<int>(kWorkers));
  for (auto _ : state) {
    arena.execute([] {
      tbb::task_group group;
      for (int i = 0; i < kEmptyTasks; ++i) group.run([] {});
      group.wait();
    });
  }
  state.SetItemsProcessed(state.iterations() * kEmptyTasks);
}
BENCHMARK(BM_TBB_TaskGroup_EmptyTasks1M)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

// ---- future-returning submit + get ------------------------------------------------------
// Submits n tasks returning their index, then gets each.
template <class Futures, class Submit>
void submit_then_get(benchmark::State& state, int n, Futures& futures, Submit submit) {
  futures.reserve(static_cast<std::size_t>(n));
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) futures.push_back(submit(i));
    long sum = 0;
    for (auto& f : futures) sum += f.get();
    benchmark::DoNotOptimize(sum);
    futures.clear();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_ThreadPool_SubmitGet100k(benchmark::State& state) {
  concur::ThreadPool pool(kWorkers);
  std::vector<concur::Future<int>> futures;
  submit_then_get(state, 100'000, futures, [&pool](int i) { return pool.submit([i] { return i; }); });
}
BENCHMARK(BM_ThreadPool_SubmitGet100k)->Unit(benchmark::kMillisecond)->UseRealTime();

// std::async starts a thread per call; 10,000 calls keep the run short, the rate compares.
void BM_StdAsync_SubmitGet10k(benchmark::State& state) {
  std::vector<std::future<int>> futures;
  submit_then_get(state, 10'000, futures,
                  [](int i) { return std::async(std::launch::async, [i] { return i; }); });
}
BENCHMARK(BM_StdAsync_SubmitGet10k)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- round trip on an idle pool ---------------------------------------------------------------
void BM_ThreadPool_RoundTrip(benchmark::State& state) {
  concur::ThreadPool pool(kWorkers);
  for (auto _ : state) benchmark::DoNotOptimize(pool.submit([] { return 1; }).get());
}
BENCHMARK(BM_ThreadPool_RoundTrip)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_TBB
void BM_TBB_TaskGroup_RoundTrip(benchmark::State& state) {
  tbb::task_arena arena(static_cast<int>(kWorkers));
  for (auto _ : state) {
    arena.execute([] {
      tbb::task_group group;
      int result = 0;
      group.run([&result] { result = 1; });
      group.wait();
      benchmark::DoNotOptimize(result);
    });
  }
}
BENCHMARK(BM_TBB_TaskGroup_RoundTrip)->UseRealTime();
#endif

void BM_StdAsync_RoundTrip(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::async(std::launch::async, [] { return 1; }).get());
}
BENCHMARK(BM_StdAsync_RoundTrip)->UseRealTime();

// The physical floor: two threads bouncing one cache line, no queue, no allocation.
void BM_SpinPingPong_RoundTrip(benchmark::State& state) {
  std::atomic<int> ball{0};
  std::atomic<bool> done{false};
  std::thread partner([&] {
    while (!done.load(std::memory_order_relaxed)) {
      if (ball.load(std::memory_order_acquire) == 1) ball.store(0, std::memory_order_release);
    }
  });
  for (auto _ : state) {
    ball.store(1, std::memory_order_release);
    while (ball.load(std::memory_order_acquire) != 0) {
    }
  }
  done = true;
  partner.join();
}
BENCHMARK(BM_SpinPingPong_RoundTrip)->UseRealTime();

// The floor of any queue that allocates a task per submit: the bare protocol (allocate,
// CAS into a word, the other thread takes it and publishes a result, free) with nothing
// else, the same hand-off concur's inbox does.
void BM_FloorQueue_RoundTrip(benchmark::State& state) {
  struct Task {
    std::atomic<int> done{0};
    int value = 0;
  };
  std::atomic<Task*> slot{nullptr};
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (slot.load(std::memory_order_relaxed) == nullptr) continue;
      Task* task = slot.exchange(nullptr, std::memory_order_acq_rel);
      task->value = 1;
      task->done.store(1, std::memory_order_release);
    }
  });
  for (auto _ : state) {
    auto* task = new Task;
    Task* empty = nullptr;
    while (!slot.compare_exchange_weak(empty, task, std::memory_order_acq_rel)) empty = nullptr;
    while (task->done.load(std::memory_order_acquire) == 0) {
    }
    benchmark::DoNotOptimize(task->value);
    delete task;
  }
  stop = true;
  partner.join();
}
BENCHMARK(BM_FloorQueue_RoundTrip)->UseRealTime();

// ---- recursive fib(30) --------------------------------------------------------------------------
constexpr int kFib = 30;

long fib_sequential(int n) { return n < 2 ? n : fib_sequential(n - 1) + fib_sequential(n - 2); }

long fib_concur(concur::ThreadPool& pool, int n) {
  if (n < 2) return n;
  auto left = pool.submit([&pool, n] { return fib_concur(pool, n - 1); });
  const long right = fib_concur(pool, n - 2);
  return left.get() + right;
}

void BM_Sequential_Fib30(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(fib_sequential(kFib));
}
BENCHMARK(BM_Sequential_Fib30)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ThreadPool_Fib30(benchmark::State& state) {
  concur::ThreadPool pool(kWorkers);
  for (auto _ : state) {
    benchmark::DoNotOptimize(pool.submit([&pool] { return fib_concur(pool, kFib); }).get());
  }
}
BENCHMARK(BM_ThreadPool_Fib30)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef CONCUR_BENCH_HAVE_TBB
long fib_tbb(int n) {
  if (n < 2) return n;
  long left = 0;
  tbb::task_group group;
  group.run([&left, n] { left = fib_tbb(n - 1); });
  const long right = fib_tbb(n - 2);
  group.wait();
  return left + right;
}

void BM_TBB_TaskGroup_Fib30(benchmark::State& state) {
  tbb::task_arena arena(static_cast<int>(kWorkers));
  for (auto _ : state) {
    long result = 0;
    arena.execute([&result] { result = fib_tbb(kFib); });
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_TBB_TaskGroup_Fib30)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace
