#include "cpu_experiment.hpp"

#include <concur/process/process_pool.hpp>
#include <concur/thread/thread_pool.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

namespace concur::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::mt19937_64 stream(std::uint64_t seed, std::uint64_t task) {
  std::seed_seq seq{seed, task};
  return std::mt19937_64(seq);
}

// The lecture's hits(n), one stream per (seed, task); `after_draw(k)` runs after the
// k-th draw (the emulated GIL uses it; plain hits() passes a no-op the compiler removes).
template <class AfterDraw>
std::int64_t count_hits(std::int64_t draws, std::uint64_t seed, std::uint64_t task,
                        AfterDraw after_draw) {
  auto rng = stream(seed, task);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::int64_t inside = 0;
  for (std::int64_t i = 1; i <= draws; ++i) {
    const double x = unit(rng), y = unit(rng);
    inside += x * x + y * y <= 1.0 ? 1 : 0;
    after_draw(i);
  }
  return inside;
}

// CPython's global interpreter lock, emulated: a task must hold it to compute and
// releases it every `interval` draws (CPython's switch interval), so threads take turns
// instead of running in parallel. The work is the same loop as hits().
class EmulatedGil {
 public:
  std::int64_t hits(std::int64_t draws, std::uint64_t seed, std::uint64_t task,
                    std::int64_t interval) {
    std::unique_lock lock(mutex_);
    return count_hits(draws, seed, task, [&](std::int64_t done) {
      if (done % interval == 0) {  // the switch interval: let another thread in
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
      }
    });
  }

 private:
  std::mutex mutex_;
};

template <class Body>
Measurement measure(std::string mode, std::size_t workers, const CpuExperimentConfig& config,
                    Body body) {
  std::vector<double> seconds;
  std::int64_t inside = 0;
  for (int r = 0; r < std::max(1, config.repeats); ++r) {
    const auto start = Clock::now();
    inside = body();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  Measurement m;
  m.mode = std::move(mode);
  m.workers = workers;
  m.seconds = seconds[seconds.size() / 2];
  const double draws = static_cast<double>(config.tasks) * static_cast<double>(config.draws_per_task);
  m.draws_per_second = draws / m.seconds;
  m.pi = 4.0 * static_cast<double>(inside) / draws;
  return m;
}

}  // namespace

std::int64_t hits(std::int64_t draws, std::uint64_t seed, std::uint64_t task) {
  return count_hits(draws, seed, task, [](std::int64_t) {});
}

std::vector<Measurement> run_cpu_experiment(const CpuExperimentConfig& config) {
  constexpr std::uint64_t kSeed = 2024;
  const std::size_t workers = config.workers != 0 ? config.workers : ThreadPool::default_workers();
  const auto tasks = static_cast<std::uint64_t>(config.tasks);
  std::vector<Measurement> results;

  results.push_back(measure("sequential", 1, config, [&] {
    std::int64_t inside = 0;
    for (std::uint64_t t = 0; t < tasks; ++t) inside += hits(config.draws_per_task, kSeed, t);
    return inside;
  }));

  ThreadPool pool(workers);
  auto on_pool = [&](auto task_body) {
    std::vector<Future<std::int64_t>> futures;
    for (std::uint64_t t = 0; t < tasks; ++t) futures.push_back(pool.submit(task_body, t));
    std::int64_t inside = 0;
    for (auto& f : futures) inside += f.get();
    return inside;
  };
  results.push_back(measure("ThreadPool", workers, config, [&] {
    return on_pool([&](std::uint64_t t) { return hits(config.draws_per_task, kSeed, t); });
  }));

  EmulatedGil gil;
  results.push_back(measure("ThreadPool + emulated GIL", workers, config, [&] {
    return on_pool([&](std::uint64_t t) {
      return gil.hits(config.draws_per_task, kSeed, t, config.gil_switch_interval);
    });
  }));

  // Worker processes: no shared interpreter state, so no GIL in Python either.
  const auto pool_start = Clock::now();
  ProcessPool processes(workers);
  processes.submit(hits, std::int64_t{1}, kSeed, std::uint64_t{0}).get();
  const double start_seconds = std::chrono::duration<double>(Clock::now() - pool_start).count();
  results.push_back(measure("ProcessPool", workers, config, [&] {
    std::vector<Future<std::int64_t>> futures;
    for (std::uint64_t t = 0; t < tasks; ++t) {
      futures.push_back(processes.submit(hits, config.draws_per_task, kSeed, t));
    }
    std::int64_t inside = 0;
    for (auto& f : futures) inside += f.get();
    return inside;
  }));
  constexpr int kRoundTrips = 200;
  std::vector<double> trips;
  for (int i = 0; i < kRoundTrips; ++i) {
    const auto start = Clock::now();
    processes.submit(hits, std::int64_t{1}, kSeed, std::uint64_t{0}).get();
    trips.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(trips.begin(), trips.end());
  results.back().process_start_seconds = start_seconds;
  results.back().process_round_trip_seconds = trips[trips.size() / 2];

  for (auto& m : results) m.speedup = results.front().seconds / m.seconds;
  return results;
}

}  // namespace concur::cli
