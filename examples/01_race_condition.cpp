// 01 — A race condition, and two ways to fix it.
//
// Four tasks each add 1 to a shared counter a million times. Without synchronisation
// the read-add-write steps of different threads interleave and updates are lost; a
// std::mutex makes each increment exclusive; a std::atomic does the same in one
// hardware instruction, and faster.
//
// Usage: 01_race_condition [increments per task]
#include <concur/thread/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace {

constexpr int kTasks = 4;

// Runs `increment` kTasks times on a pool, `n` calls each, and returns the seconds.
template <class Increment>
double run(concur::ThreadPool& pool, long n, Increment increment) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<concur::Future<void>> tasks;
  for (int t = 0; t < kTasks; ++t) {
    tasks.push_back(pool.submit([n, &increment] {
      for (long i = 0; i < n; ++i) increment();
    }));
  }
  for (auto& task : tasks) task.get();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report(const char* name, long got, long expected, double seconds) {
  std::printf("%-12s: %ld of %ld increments kept (%.1f%% lost) in %.3f s\n", name, got, expected,
              100.0 * static_cast<double>(expected - got) / static_cast<double>(expected), seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: %s [increments per task > 0]\n", argv[0]);
    return 2;
  }
  const long expected = kTasks * n;
  concur::ThreadPool pool(kTasks);

  // A data race, on purpose: undefined behaviour in C++, shown here because it is what
  // the lecture is about. `volatile` only stops the compiler from folding the loop into
  // a single addition; it does not make the increment atomic.
  volatile long plain = 0;
  double seconds = run(pool, n, [&] { plain = plain + 1; });
  report("plain long", plain, expected, seconds);

  long guarded = 0;
  std::mutex mutex;
  seconds = run(pool, n, [&] {
    std::lock_guard lock(mutex);
    ++guarded;
  });
  report("std::mutex", guarded, expected, seconds);

  std::atomic<long> atomic{0};
  seconds = run(pool, n, [&] { atomic.fetch_add(1, std::memory_order_relaxed); });
  report("std::atomic", atomic.load(), expected, seconds);
  return 0;
}
