// 02 — Monte Carlo pi: the same CPU-bound work sequentially and on a ThreadPool.
//
// hits(n) draws n random points in the unit square and counts those inside the quarter
// circle; 4 * hits / n estimates pi. C++ threads run in parallel (there is no GIL), so
// the ThreadPool should be about as many times faster as there are free cores.
//
// Usage: 02_monte_carlo_pi [draws per task] [tasks in the map sweep]
#include <concur/thread/thread_pool.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

long hits(long n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  long inside = 0;
  for (long i = 0; i < n; ++i) {
    const double x = unit(rng), y = unit(rng);
    if (x * x + y * y <= 1.0) ++inside;
  }
  return inside;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report(const char* name, long inside, long draws, double seconds) {
  std::printf("%-22s: pi ~ %.5f from %ld draws in %.3f s\n", name,
              4.0 * static_cast<double>(inside) / static_cast<double>(draws), draws, seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const long draws = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const long sweep_tasks = argc > 2 ? std::atol(argv[2]) : 1000;
  if (draws <= 0 || sweep_tasks <= 0) {
    std::fprintf(stderr, "usage: %s [draws per task > 0] [sweep tasks > 0]\n", argv[0]);
    return 2;
  }
  constexpr unsigned kTasks = 8;

  // Sequential: 8 tasks, one after the other.
  auto start = std::chrono::steady_clock::now();
  long inside = 0;
  for (unsigned t = 0; t < kTasks; ++t) inside += hits(draws, t);
  report("sequential", inside, kTasks * draws, seconds_since(start));

  // The same 8 tasks on a ThreadPool (one worker per core): submit, then collect.
  concur::ThreadPool pool;
  start = std::chrono::steady_clock::now();
  std::vector<concur::Future<long>> futures;
  for (unsigned t = 0; t < kTasks; ++t) futures.push_back(pool.submit(hits, draws, t));
  inside = 0;
  for (auto& f : futures) inside += f.get();
  report("ThreadPool", inside, kTasks * draws, seconds_since(start));

  // Many small tasks: map yields results in input order; a chunksize hands each worker
  // 50 seeds at a time, so the per-task overhead is paid once per chunk.
  std::vector<unsigned> seeds(static_cast<std::size_t>(sweep_tasks));
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = static_cast<unsigned>(i);
  constexpr long kSmallDraws = 10'000;
  start = std::chrono::steady_clock::now();
  inside = 0;
  for (long h : pool.map([](unsigned seed) { return hits(kSmallDraws, seed); }, seeds,
                         concur::MapOptions{.chunksize = 50})) {
    inside += h;
  }
  report("map, chunksize 50", inside, sweep_tasks * kSmallDraws, seconds_since(start));
  return 0;
}
