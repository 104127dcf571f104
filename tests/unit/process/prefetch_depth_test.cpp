// How many tasks the pool sends ahead to a worker: kWorkAhead of its work by the moving
// average of its task times, between kPrefetch and kDeepPrefetch.
#include "process/pool_core.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace concur::detail {
namespace {

using namespace std::chrono_literals;

TEST(PrefetchDepth, TwoUntilATaskTimeIsKnown) { EXPECT_EQ(prefetch_depth(Clock::duration::max()), kPrefetch); }

TEST(PrefetchDepth, TinyTasksGoInTheDeepestBatches) {
  EXPECT_EQ(prefetch_depth(0ns), kDeepPrefetch) << "results settled in one turn measure nothing";
  EXPECT_EQ(prefetch_depth(300ns), kDeepPrefetch);
  EXPECT_EQ(prefetch_depth(kWorkAhead / 64), kDeepPrefetch);
  EXPECT_EQ(prefetch_depth(-5us), kDeepPrefetch) << "a negative mean is no reason for a huge batch";
}

TEST(PrefetchDepth, LongerTasksGetAsManyAsCoverTheWorkAhead) {
  EXPECT_EQ(prefetch_depth(kWorkAhead / 16), 16u);
  EXPECT_EQ(prefetch_depth(100us), 16u) << "as many as before for tasks of 100 us";
  EXPECT_EQ(prefetch_depth(kWorkAhead / 3), 3u);
}

TEST(PrefetchDepth, LongTasksGetTheRunningOneAndTheNext) {
  EXPECT_EQ(prefetch_depth(kWorkAhead), kPrefetch);
  EXPECT_EQ(prefetch_depth(5s), kPrefetch);
  EXPECT_EQ(prefetch_depth(Clock::duration::max() - 1ns), kPrefetch);
}

}  // namespace
}  // namespace concur::detail
