// The reading of a CPU-time clock (CLOCK_PROCESS_CPUTIME_ID, a thread's clock, another
// process's), in seconds; 0 if it cannot be read. Shared by the benchmarks that report
// CPU time beside wall-clock time.
#pragma once

#include <time.h>

namespace concur::bench {

inline double cpu_seconds_of(clockid_t clock) {
  timespec t{};
  if (clock_gettime(clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace concur::bench
