// gather (range, variadic, return_exceptions), wait_for, to_thread and run_in.
#include <concur/loop/gather.hpp>
#include <concur/loop/to_thread.hpp>

#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/thread/thread_pool.hpp>

#include "support/loop_tasks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Task<int> fails_after(std::chrono::milliseconds d) {
  co_await sleep(d);
  throw std::runtime_error("failed");
}
Task<void> void_task() { co_await yield_now(); }

Task<std::vector<int>> gather_in_order() {
  std::vector<Task<int>> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(test::value_after(std::chrono::milliseconds(10 - 2 * i), i));
  co_return co_await gather(std::move(tasks));
}

TEST(Gather, KeepsInputOrderNotCompletionOrder) {
  EXPECT_EQ(run(gather_in_order()), (std::vector<int>{0, 1, 2, 3, 4}));
}

Task<std::string> gather_variadic() {
  auto [a, b, c] = co_await gather(test::value_after(5ms, 1), [](std::string s) -> Task<std::string> { co_return s; }("x"),
                                   void_task());
  (void)c;
  co_return std::to_string(a) + b;
}

TEST(Gather, VariadicGivesATuple) { EXPECT_EQ(run(gather_variadic()), "1x"); }

Task<int> gather_failure_leaves_others_running(bool& other_finished) {
  std::vector<Task<int>> tasks;
  tasks.push_back(fails_after(1ms));
  tasks.push_back([](bool& done) -> Task<int> {
    co_await sleep(5ms);
    done = true;
    co_return 2;
  }(other_finished));
  bool failed = false;
  try {
    (void)co_await gather(std::move(tasks));
  } catch (const std::runtime_error&) {
    failed = true;
  }
  co_await sleep(20ms);  // long enough for the other task to end, if it still runs
  co_return failed ? 1 : 0;
}

TEST(Gather, TheFirstExceptionPropagatesAndTheOthersGoOn) {
  bool other_finished = false;
  EXPECT_EQ(run(gather_failure_leaves_others_running(other_finished)), 1);
  EXPECT_TRUE(other_finished) << "asyncio.gather does not cancel the others";
}

Task<std::vector<std::string>> gather_outcomes() {
  std::vector<Task<int>> tasks;
  tasks.push_back(test::value_after(1ms, 7));
  tasks.push_back(fails_after(1ms));
  tasks.push_back(test::value_after(10s, 9));
  auto slow = std::move(tasks.back());
  tasks.pop_back();
  std::vector<Task<int>> with_cancelled;
  with_cancelled.push_back(std::move(tasks[0]));
  with_cancelled.push_back(std::move(tasks[1]));
  with_cancelled.push_back([](Task<int> t) -> Task<int> {
    auto h = spawn(std::move(t));
    h.cancel();
    co_return co_await h;
  }(std::move(slow)));
  std::vector<std::string> described;
  for (auto& outcome : co_await gather(std::move(with_cancelled), return_exceptions)) {
    try {
      described.push_back(std::to_string(outcome.get()));
    } catch (const CancelledError&) {
      described.push_back("cancelled");
    } catch (const std::exception& e) {
      described.push_back(e.what());
    }
  }
  co_return described;
}

TEST(Gather, ReturnExceptionsCollectsEveryOutcome) {
  EXPECT_EQ(run(gather_outcomes()), (std::vector<std::string>{"7", "failed", "cancelled"}));
}

Task<std::vector<int>> gather_three_sleepers(int& finished) {
  std::vector<Task<int>> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back(test::sleep_then_count(finished));
  co_return co_await gather(std::move(tasks));
}

TEST(Gather, CancellingTheGatherCancelsItsTasks) {
  int finished = 0;
  const auto start = Clock::now();
  EXPECT_TRUE(run(test::cancel_soon(gather_three_sleepers(finished))));
  EXPECT_EQ(finished, 0);
  EXPECT_LT(Clock::now() - start, 5s);
}

Task<std::string> wait_for_cases(bool& inner_unwound) {
  std::string out = std::to_string(co_await wait_for(test::value_after(1ms, 4), 1s));
  try {
    (void)co_await wait_for(
        [](bool& unwound) -> Task<int> {
          struct Flag {
            bool& f;
            ~Flag() { f = true; }
          } flag{unwound};
          co_await sleep(10s);
          co_return 0;
        }(inner_unwound),
        20ms);
  } catch (const TimeoutError& e) {
    out += std::string(" timeout: ") + e.what();
  }
  co_return out;
}

TEST(WaitFor, ValueInTimeOrTimeoutErrorWithTheInnerTaskCancelled) {
  bool unwound = false;
  const auto start = Clock::now();
  const std::string out = run(wait_for_cases(unwound));
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(out.rfind("4 timeout: ", 0), 0u) << out;
  EXPECT_NE(out.find("20 ms"), std::string::npos) << out;
  EXPECT_TRUE(unwound) << "the inner task was cancelled and unwound";
}

int thread_id_hash() { return static_cast<int>(std::hash<std::thread::id>{}(std::this_thread::get_id()) % 1000003); }
int add(int a, int b) { return a + b; }
int throws_domain() { throw std::domain_error("in a thread"); }

Task<bool> bridges(ThreadPool& pool) {
  const int here = thread_id_hash();
  const int there = co_await to_thread(thread_id_hash);
  EXPECT_NE(here, there) << "to_thread runs elsewhere";
  EXPECT_EQ(co_await run_in(pool, add, 2, 3), 5);
  EXPECT_EQ(co_await to_thread([](std::string s) { return s + "!"; }, std::string("hi")), "hi!");
  try {
    (void)co_await to_thread(throws_domain);
  } catch (const std::domain_error&) {
    co_return true;
  }
  co_return false;
}

TEST(Bridges, ToThreadAndRunInReturnValuesAndExceptions) {
  ThreadPool pool(2);
  EXPECT_TRUE(run(bridges(pool)));
}

}  // namespace
}  // namespace concur
