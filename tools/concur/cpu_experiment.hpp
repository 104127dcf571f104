// The lecture's CPU-bound experiment: Monte Carlo estimates of pi, split into tasks,
// run sequentially, on a ThreadPool, on a ThreadPool under an emulated GIL, and on a
// ProcessPool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace concur::cli {

struct CpuExperimentConfig {
  int tasks = 8;
  std::int64_t draws_per_task = 1'000'000;
  std::size_t workers = 0;              // 0: one per core
  std::int64_t gil_switch_interval = 1000;  // draws between releases of the emulated GIL
  int repeats = 3;                      // each figure is the median of this many runs
};

struct Measurement {
  std::string mode;       // "sequential", "ThreadPool", "ThreadPool + emulated GIL", "ProcessPool"
  std::size_t workers = 1;
  double seconds = 0;     // median wall time
  double draws_per_second = 0;
  double speedup = 0;     // sequential seconds / these seconds
  double pi = 0;          // the estimate, to show the work is real
  // ProcessPool only: construction to the first result, and a median submit().get().
  double process_start_seconds = 0;
  double process_round_trip_seconds = 0;
};

// Points of `draws` uniform draws in the unit square that fall in the quarter circle;
// the stream depends only on (seed, task).
std::int64_t hits(std::int64_t draws, std::uint64_t seed, std::uint64_t task);

std::vector<Measurement> run_cpu_experiment(const CpuExperimentConfig& config);

}  // namespace concur::cli
