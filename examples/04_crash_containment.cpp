// 04 — Crash containment: one task of 100 segfaults; the other 99 results arrive and the
// failure names the signal. (Python's ProcessPoolExecutor would raise
// BrokenProcessPool for every pending task and refuse new ones.)
//
// Usage: 04_crash_containment [the input that crashes, 0..99]
#include <concur/process/process_pool.hpp>
#include <concur/process/worker_entry.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

// Legacy code with a bug for one input.
double legacy_solver(int input) {
  if (input == std::atoi(std::getenv("CRASH_INPUT"))) std::raise(SIGSEGV);
  return input * 0.5;
}

}  // namespace

int main(int argc, char** argv) {
  concur::serve_if_worker(argc, argv);
  const int crash = argc > 1 ? std::atoi(argv[1]) : 42;
  if (crash < 0 || crash > 99) {
    std::fprintf(stderr, "usage: %s [crashing input 0..99]\n", argv[0]);
    return 2;
  }
  ::setenv("CRASH_INPUT", std::to_string(crash).c_str(), 1);  // workers inherit it

  concur::ProcessPool pool(2);
  std::vector<concur::Future<double>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(pool.submit(legacy_solver, i));

  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    try {
      futures[i].get();
      ++ok;
    } catch (const concur::WorkerDied& e) {
      std::printf("input %d: %s\n", i, e.what());
    }
  }
  std::printf("%d of 100 results arrived; the pool still works: %.1f\n", ok,
              pool.submit(legacy_solver, 7).get());
  return ok == 99 ? 0 : 1;
}
