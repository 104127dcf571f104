#include "concurrency_experiment.hpp"

#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <system_error>
#include <thread>

// Sanitizer runtimes replace malloc, and glibc's mallinfo2 then sees none of it; they
// report their own count here (weak: absent from a normal build).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes() __attribute__((weak));

namespace concur::cli {
namespace {

using Clock = std::chrono::steady_clock;

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// Heap bytes in use.
double heap_in_use() {
  if (__sanitizer_get_current_allocated_bytes != nullptr) {
    return static_cast<double>(__sanitizer_get_current_allocated_bytes());
  }
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

ConcurrencyMeasurement with_threads(std::size_t n, std::chrono::milliseconds wait) {
  ConcurrencyMeasurement m{"threads", n};
  const double before = resident_bytes();
  std::atomic<std::size_t> started{0};
  std::vector<std::thread> threads;
  threads.reserve(n);
  const auto start = Clock::now();
  try {
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&started, wait] {
        started.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(wait);  // the workload: a wait, as a blocking call would
      });
    }
  } catch (const std::system_error& e) {
    m.failure = "stopped after " + std::to_string(threads.size()) + " threads: " + e.what();
    m.waits = threads.size();
  }
  while (started.load(std::memory_order_relaxed) < threads.size()) std::this_thread::yield();
  m.memory_bytes = resident_bytes() - before;
  for (auto& t : threads) t.join();
  m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return m;
}

Task<void> one_wait(std::chrono::milliseconds wait) { co_await sleep(wait); }

Task<void> waits_on_loop(std::size_t n, std::chrono::milliseconds wait, double& memory) {
  const double before = heap_in_use();
  std::vector<TaskHandle<void>> tasks;
  tasks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) tasks.push_back(spawn(one_wait(wait)));
  co_await yield_now();  // every task has started and waits
  memory = heap_in_use() - before;
  for (auto& t : tasks) co_await t;
}

ConcurrencyMeasurement with_tasks(std::size_t n, std::chrono::milliseconds wait) {
  ConcurrencyMeasurement m{"loop tasks", n};
  const auto start = Clock::now();
  run(waits_on_loop(n, wait, m.memory_bytes));
  m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return m;
}

}  // namespace

std::vector<ConcurrencyMeasurement> run_concurrency_experiment(const ConcurrencyExperimentConfig& config) {
  const std::chrono::milliseconds wait(config.wait_ms);
  return {with_threads(config.waits, wait), with_tasks(config.waits, wait), with_tasks(config.waits * 100, wait)};
}

}  // namespace concur::cli
