#include <concur/profile/parallelism_probe.hpp>

#include <gtest/gtest.h>

namespace concur {
namespace {

TEST(ParallelismProbe, GivesAPlausibleFigure) {
  const ParallelismProbe probe = probe_parallelism(std::chrono::milliseconds(5), 3);
  EXPECT_GT(probe.one_thread_seconds, 0);
  EXPECT_GT(probe.two_threads_seconds, 0);
  // Two threads on at least one core: between 0.5x (heavy contention) and ~2x.
  EXPECT_GT(probe.parallelism(), 0.4);
  EXPECT_LT(probe.parallelism(), 2.6);
}

TEST(ParallelismProbe, EmptyProbeIsZero) { EXPECT_EQ(ParallelismProbe{}.parallelism(), 0); }

}  // namespace
}  // namespace concur
