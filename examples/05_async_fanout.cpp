// 05 — Thousands of concurrent waits on one thread: the lecture's aio_fanout.
//
// 30 tasks that each sleep 100 ms finish together in about 0.1 s: while one waits, the
// loop runs the others. No thread per wait, so the same program scales to a million
// sleeping tasks; this prints the wall time and the peak memory for each size.
//
// Usage: 05_async_fanout [largest N, default 1000000]
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using namespace std::chrono_literals;

concur::Task<int> fetch(int i) {
  co_await concur::sleep(100ms);  // stands for a network wait
  co_return i % 7;
}

// Starts n tasks, then collects their results in order.
concur::Task<long> fan_out(int n) {
  std::vector<concur::TaskHandle<int>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) tasks.push_back(concur::spawn(fetch(i)));
  long sum = 0;
  for (auto& task : tasks) sum += co_await task;
  co_return sum;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  const long largest = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  if (largest < 30) {
    std::fprintf(stderr, "usage: %s [largest N >= 30]\n", argv[0]);
    return 2;
  }
  for (long n = 30; n <= largest; n = n == 30 ? 10'000 : n * 10) {
    const auto start = std::chrono::steady_clock::now();
    const long sum = concur::run(fan_out(static_cast<int>(n)));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%8ld tasks sleeping 100 ms: %.3f s, peak RSS %.0f MiB (checksum %ld)\n", n, seconds,
                peak_rss_mib(), sum);
  }
  return 0;
}
