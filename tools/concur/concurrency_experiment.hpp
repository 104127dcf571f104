// The lecture's massive-concurrency experiment: N waits of 100 ms each, as N threads and
// as N tasks on one event loop; wall time and the memory they hold while all wait.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace concur::cli {

struct ConcurrencyExperimentConfig {
  std::size_t waits = 10'000;  // threads and tasks; tasks also run at 100x this
  int wait_ms = 100;
};

struct ConcurrencyMeasurement {
  std::string mode;          // "threads" or "loop tasks"
  std::size_t waits = 0;
  double seconds = 0;        // start of the first wait to the end of the last
  double memory_bytes = 0;   // held while all wait: RSS growth for threads, heap for tasks
  std::string failure;       // why the run stopped short (e.g. no more threads), or ""
};

std::vector<ConcurrencyMeasurement> run_concurrency_experiment(const ConcurrencyExperimentConfig& config);

}  // namespace concur::cli
