// The main of every concur benchmark: first the two-thread parallelism probe (a speedup
// means nothing without it: the second core of these machines sometimes vanishes),
// recorded in the output's context so the ratio script can print it too.
#include <concur/profile/parallelism_probe.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  const concur::ParallelismProbe probe = concur::probe_parallelism();
  std::fprintf(stderr, "parallelism probe: %.2fx with two threads\n", probe.parallelism());
  benchmark::AddCustomContext("parallelism", std::to_string(probe.parallelism()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
