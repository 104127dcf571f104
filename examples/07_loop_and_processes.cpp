// 07 — The event loop awaits ProcessPool work while its other tasks keep running.
//
// CPU-bound work would stall a loop (nothing else runs while one task computes). Handing
// it to a ProcessPool and co_awaiting the Future keeps the loop free: here a heartbeat
// task ticks every 10 ms the whole time the workers compute Monte Carlo pi.
//
// Usage: 07_loop_and_processes [draws per task, default 20000000] [tasks, default 8]
#include <concur/loop/await_future.hpp>
#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/process/process_pool.hpp>
#include <concur/process/worker_entry.hpp>
#include <concur/sci/random.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Runs in a worker process: draws from its own reproducible stream.
long hits(long draws, unsigned long task) {
  concur::Random rng(2026, task);
  long inside = 0;
  for (long i = 0; i < draws; ++i) {
    const double x = rng.uniform(), y = rng.uniform();
    if (x * x + y * y <= 1.0) ++inside;
  }
  return inside;
}

concur::Task<long> compute(concur::ProcessPool& pool, long draws, unsigned long task) {
  co_return co_await pool.submit(hits, draws, task);  // the loop is free meanwhile
}

concur::Task<int> heartbeat(const bool& done) {
  int beats = 0;
  while (!done) {
    co_await concur::sleep(10ms);
    ++beats;
  }
  co_return beats;
}

concur::Task<void> main_task(long draws, int tasks) {
  concur::ProcessPool pool;
  bool done = false;
  auto beats = concur::spawn(heartbeat(done));
  const auto start = std::chrono::steady_clock::now();
  std::vector<concur::Task<long>> work;
  for (int t = 0; t < tasks; ++t) work.push_back(compute(pool, draws, static_cast<unsigned long>(t)));
  const std::vector<long> inside = co_await concur::gather(std::move(work));
  done = true;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long total = 0;
  for (long n : inside) total += n;
  const int ticks = co_await beats;
  std::printf("pi ~ %.6f from %d tasks x %ld draws on %zu worker processes in %.2f s\n",
              4.0 * static_cast<double>(total) / static_cast<double>(draws * tasks), tasks, draws, pool.workers(),
              seconds);
  std::printf("meanwhile the loop ran %d heartbeats of 10 ms (%.0f%% of the time it could)\n", ticks,
              100.0 * ticks * 0.010 / seconds);
}

}  // namespace

int main(int argc, char** argv) {
  concur::serve_if_worker(argc, argv);  // needed only for StartMethod::spawn; harmless here
  const long draws = argc > 1 ? std::atol(argv[1]) : 20'000'000;
  const int tasks = argc > 2 ? std::atoi(argv[2]) : 8;
  if (draws < 1 || tasks < 1) {
    std::fprintf(stderr, "usage: %s [draws per task >= 1] [tasks >= 1]\n", argv[0]);
    return 2;
  }
  concur::run(main_task(draws, tasks));
  return 0;
}
