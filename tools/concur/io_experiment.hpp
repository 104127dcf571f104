// The lecture's I/O-bound experiment: "500 tiny files from the cloud", each waiting
// ~100 ms on the network and needing ~2 ms of CPU, fetched from a local data service
// (started in-process on a loopback port) sequentially, by ThreadPools of 20 and 100
// threads with the blocking client, and on the event loop (100 at a time, all at once,
// and all at once with the CPU part on threads).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace concur::cli {

struct IoExperimentConfig {
  std::size_t files = 500;
  int latency_ms = 100;
  double cpu_ms = 2;            // CPU work per file after it arrived
  std::size_t file_size = 1024;
  std::size_t sequential_files = 50;  // the sequential run fetches this many and is scaled
};

struct IoMeasurement {
  std::string mode;
  std::size_t fetched = 0;   // files this run fetched (sequential: a sample)
  double seconds = 0;        // wall time, scaled to all files for the sequential sample
  double cpu_seconds = 0;    // CPU of the fetching side (the server's thread excluded)
  double requests_per_second = 0;
  bool scaled = false;       // seconds and cpu_seconds are the sample's times the files/sample
};

std::vector<IoMeasurement> run_io_experiment(const IoExperimentConfig& config);

}  // namespace concur::cli
