// 03 — Monte Carlo pi on processes: the lecture's mp_pi (8 tasks of 1,000,000 draws) and
// the 1,000 x 10,000 sweep with a chunksize, processes vs threads vs sequential.
//
// A ProcessPool runs each task in a worker process: no shared memory, so no data race
// is possible, and a crash stays in its worker. The price is that arguments and results
// are copied between processes: a chunksize pays that once per chunk.
//
// Usage: 03_process_pool_pi [draws per task] [tasks in the sweep]
#include <concur/process/process_pool.hpp>
#include <concur/process/worker_entry.hpp>
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

long small_hits(unsigned seed) { return hits(10'000, seed); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report(const char* name, long inside, long draws, double seconds) {
  std::printf("%-28s: pi ~ %.5f from %ld draws in %.3f s\n", name,
              4.0 * static_cast<double>(inside) / static_cast<double>(draws), draws, seconds);
}

// 8 tasks of `draws` on any executor: submit all, then collect.
template <class Executor>
long mp_pi(Executor& executor, long draws) {
  std::vector<concur::Future<long>> futures;
  for (unsigned t = 0; t < 8; ++t) futures.push_back(executor.submit(hits, draws, t));
  long inside = 0;
  for (auto& f : futures) inside += f.get();
  return inside;
}

// The sweep: one small task per seed, through map with a chunksize.
template <class Executor>
long sweep(Executor& executor, const std::vector<unsigned>& seeds) {
  long inside = 0;
  for (long h : executor.map(small_hits, seeds, concur::MapOptions{.chunksize = 50})) inside += h;
  return inside;
}

}  // namespace

int main(int argc, char** argv) {
  concur::serve_if_worker(argc, argv);  // needed only for StartMethod::spawn; harmless here
  const long draws = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const long tasks = argc > 2 ? std::atol(argv[2]) : 1000;
  if (draws <= 0 || tasks <= 0) {
    std::fprintf(stderr, "usage: %s [draws per task > 0] [sweep tasks > 0]\n", argv[0]);
    return 2;
  }
  std::vector<unsigned> seeds(static_cast<std::size_t>(tasks));
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = static_cast<unsigned>(i);

  auto start = std::chrono::steady_clock::now();
  long inside = 0;
  for (unsigned t = 0; t < 8; ++t) inside += hits(draws, t);
  report("mp_pi sequential", inside, 8 * draws, seconds_since(start));

  concur::ThreadPool threads;
  start = std::chrono::steady_clock::now();
  inside = mp_pi(threads, draws);
  report("mp_pi ThreadPool", inside, 8 * draws, seconds_since(start));

  start = std::chrono::steady_clock::now();
  concur::ProcessPool processes;  // one worker process per core, started here
  inside = mp_pi(processes, draws);
  report("mp_pi ProcessPool", inside, 8 * draws, seconds_since(start));

  start = std::chrono::steady_clock::now();
  inside = 0;
  for (unsigned seed : seeds) inside += small_hits(seed);
  report("sweep sequential", inside, tasks * 10'000, seconds_since(start));

  start = std::chrono::steady_clock::now();
  inside = sweep(threads, seeds);
  report("sweep ThreadPool, chunk 50", inside, tasks * 10'000, seconds_since(start));

  start = std::chrono::steady_clock::now();
  inside = sweep(processes, seeds);
  report("sweep ProcessPool, chunk 50", inside, tasks * 10'000, seconds_since(start));
  return 0;
}
