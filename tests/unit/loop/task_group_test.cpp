// TaskGroup: waits for all, the first failure cancels the siblings, failures come back
// together in an ExceptionGroup, and a cancelled join cancels the group.
#include <concur/loop/task_group.hpp>

#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>

#include "support/loop_tasks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Task<int> fails_at_once(std::string what) {
  throw std::runtime_error(what);  // before any suspension point: a cancel cannot stop it
  co_return 0;
}

Task<int> all_succeed() {
  TaskGroup group;
  auto a = group.spawn(test::value_after(3ms, 1));
  auto b = group.spawn(test::value_after(1ms, 2));
  auto late = group.spawn([](TaskGroup& g) -> Task<int> {  // spawns into the group while it is joined
    co_await sleep(2ms);
    (void)g.spawn(test::value_after(2ms, 0));
    co_return 4;
  }(group));
  co_await group.join();
  EXPECT_EQ(group.size(), 4u);
  EXPECT_THROW((void)group.spawn(test::value_after(1ms, 0)), InvalidState);
  co_return a.result() + b.result() + late.result();
}

TEST(TaskGroup, JoinWaitsForEveryTaskIncludingLateOnes) { EXPECT_EQ(run(all_succeed()), 7); }

Task<std::string> first_failure_cancels_siblings(bool& sibling_cancelled) {
  TaskGroup group;
  (void)group.spawn(fails_at_once("boom"));
  (void)group.spawn(fails_at_once("bang"));  // already started when "boom" cancels it
  auto slow = group.spawn(test::value_after(10s, 0));
  try {
    co_await group.join();
  } catch (const ExceptionGroup& e) {
    sibling_cancelled = slow.cancelled();
    co_return std::to_string(e.exceptions().size()) + " | " + e.what();
  }
  co_return "no error";
}

TEST(TaskGroup, TheFirstFailureCancelsTheOthersAndAllFailuresAreReported) {
  bool sibling_cancelled = false;
  const auto start = Clock::now();
  const std::string out = run(first_failure_cancels_siblings(sibling_cancelled));
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(sibling_cancelled);
  EXPECT_EQ(out.rfind("2 | concur::TaskGroup: 2 of 3 tasks failed; the first: boom", 0), 0u) << out;
}

Task<void> joins_forever(int& finished) {
  TaskGroup group;
  for (int i = 0; i < 3; ++i) (void)group.spawn(test::sleep_then_count(finished));
  co_await group.join();
}

TEST(TaskGroup, CancellingTheJoinCancelsTheGroup) {
  int finished = 0;
  const auto start = Clock::now();
  EXPECT_TRUE(run(test::cancel_soon(joins_forever(finished))));
  EXPECT_EQ(finished, 0);
  EXPECT_LT(Clock::now() - start, 5s);
}

Task<bool> destroyed_unjoined(bool& unwound) {
  {
    TaskGroup group;
    (void)group.spawn([](bool& flag) -> Task<int> {
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        flag = true;
        throw;
      }
      co_return 0;
    }(unwound));
    co_await yield_now();
  }
  co_await sleep(1ms);
  co_return unwound;
}

TEST(TaskGroup, DestroyingAnUnjoinedGroupCancelsItsTasks) {
  bool unwound = false;
  EXPECT_TRUE(run(destroyed_unjoined(unwound)));
}

}  // namespace
}  // namespace concur
