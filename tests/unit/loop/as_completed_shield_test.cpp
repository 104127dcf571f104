// as_completed and shield for tasks: completion order, timeouts, failures handed out in
// their turn, cancellation of the wait only; shield keeps a cancel from its task.
#include <concur/loop/as_completed.hpp>
#include <concur/loop/shield.hpp>

#include <concur/core/as_completed.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include "support/loop_tasks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

Task<int> fails_after(std::chrono::milliseconds d) {
  co_await sleep(d);
  throw std::domain_error("failed on purpose");
}

Task<std::vector<int>> completion_order() {
  std::vector<Task<int>> tasks;
  tasks.push_back(test::value_after(30ms, 3));
  tasks.push_back(test::value_after(10ms, 1));
  tasks.push_back(fails_after(20ms));
  tasks.push_back(test::value_after(0ms, 0));
  auto order = as_completed(std::move(tasks));
  EXPECT_EQ(order.remaining(), 4u);
  std::vector<int> seen;
  while (!order.empty()) {
    TaskHandle<int> h = co_await order.next();
    EXPECT_TRUE(h.done());
    try {
      seen.push_back(h.result());
    } catch (const std::domain_error&) {
      seen.push_back(-1);
    }
  }
  EXPECT_THROW(co_await order.next(), InvalidState);
  co_return seen;
}

TEST(LoopAsCompleted, HandsOutTasksInTheOrderTheyEnd) {
  EXPECT_EQ(run(completion_order()), (std::vector<int>{0, 1, -1, 3}));
}

Task<void> times_out() {
  std::vector<TaskHandle<int>> handles{spawn(test::value_after(1ms, 1)), spawn(test::value_after(10s, 2))};
  auto order = as_completed(handles, 30ms);
  EXPECT_EQ((co_await order.next()).result(), 1);
  try {
    co_await order.next();
    ADD_FAILURE() << "no timeout";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("1 tasks not done after 30 ms"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(handles[1].done()) << "as asyncio, the slow task keeps running";
  handles[1].cancel();
}

TEST(LoopAsCompleted, TimeoutRaisesAndLeavesTasksRunning) { run(times_out()); }

Task<void> cancel_the_wait() {
  std::vector<TaskHandle<int>> handles{spawn(test::value_after(20ms, 7))};
  auto order = as_completed(handles);
  auto waiting = spawn([](CompletionOrder<int>& o) -> Task<int> { co_return (co_await o.next()).result(); }(order));
  co_await sleep(1ms);
  waiting.cancel();
  EXPECT_THROW(co_await waiting, CancelledError);
  EXPECT_EQ((co_await order.next()).result(), 7) << "the task itself was not cancelled";
}

TEST(LoopAsCompleted, CancellingTheWaitLeavesTheTasks) { run(cancel_the_wait()); }

Task<void> shielded() {
  auto precious = spawn(test::value_after(20ms, 42));
  auto outer = spawn(shield(precious));
  co_await sleep(1ms);
  outer.cancel();
  EXPECT_THROW(co_await outer, CancelledError);
  EXPECT_FALSE(precious.done());
  EXPECT_EQ(co_await precious, 42) << "the shielded task ran to its end";
  // Cancelling the shielded task itself still cancels it.
  auto inner = spawn(test::value_after(10s, 1));
  auto waiting = spawn(shield(inner));
  co_await sleep(1ms);
  inner.cancel();
  EXPECT_THROW(co_await waiting, CancelledError);
  EXPECT_TRUE(inner.cancelled());
  // A value passes through; an empty handle is refused.
  EXPECT_EQ(co_await shield(test::value_after(0ms, 5)), 5);
  EXPECT_THROW(co_await shield(TaskHandle<int>()), InvalidState);
}

TEST(LoopShield, KeepsACancelFromTheShieldedTask) { run(shielded()); }

}  // namespace
}  // namespace concur
