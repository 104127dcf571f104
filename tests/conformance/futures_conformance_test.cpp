// The concurrent.futures behaviours concur promises, one test each, run against every
// executor (ProcessPool joins the list when it exists).
#include <concur/concur.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include "support/latch.hpp"
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

// Counts a latch down when the scope ends, also when an assertion returns early: a
// worker blocked on the latch would otherwise hang the executor's destructor.
struct ReleaseOnExit {
  test::Latch& latch;
  ~ReleaseOnExit() {
    if (!latch.try_wait()) latch.count_down();
  }
};

template <class E>
class FuturesConformance : public testing::Test {
 protected:
  // Latches that tasks wait on; declared before the executor so that they outlive its
  // workers (a woken waiter still touches the latch after count_down returns).
  test::Latch& latch(std::ptrdiff_t count) { return latches_.emplace_back(count); }

 private:
  std::deque<test::Latch> latches_;

 protected:
  E executor{2};
};

using Executors = testing::Types<ThreadPool>;
TYPED_TEST_SUITE(FuturesConformance, Executors);

TYPED_TEST(FuturesConformance, ResultsAndExceptionsPropagate) {
  EXPECT_EQ(this->executor.submit([](int x) { return x + 1; }, 41).get(), 42);
  auto failing = this->executor.submit([]() -> int { throw std::invalid_argument("bad input"); });
  try {
    (void)failing.get();
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "bad input");
  }
  EXPECT_NE(failing.exception(), nullptr);
}

TYPED_TEST(FuturesConformance, CancelSucceedsOnlyWhilePending) {
  test::Latch& started = this->latch(2);
  test::Latch& release = this->latch(1);
  auto blocker = [&] {
    started.count_down();
    release.wait();
  };
  auto running_a = this->executor.submit(blocker);  // occupy both workers
  auto running_b = this->executor.submit(blocker);
  started.wait();
  auto pending = this->executor.submit([] { return 1; });
  EXPECT_TRUE(pending.cancel());
  EXPECT_TRUE(pending.cancelled());
  EXPECT_FALSE(running_a.cancel());
  EXPECT_FALSE(running_a.cancelled());
  release.count_down();
  running_a.get();
  running_b.get();
  EXPECT_FALSE(running_a.cancel()) << "a finished future cannot be cancelled";
  EXPECT_THROW((void)pending.get(), CancelledError);
}

TYPED_TEST(FuturesConformance, ShutdownNoWaitCancelFuturesCancelsQueuedFinishesRunning) {
  test::Latch& started = this->latch(2);
  test::Latch& release = this->latch(1);
  std::atomic<int> finished{0};
  std::vector<Future<void>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(this->executor.submit([&] {
      started.count_down();
      release.wait();
      ++finished;
    }));
  }
  started.wait();
  std::vector<Future<int>> queued;
  for (int i = 0; i < 20; ++i) queued.push_back(this->executor.submit([] { return 0; }));
  this->executor.shutdown({.wait = false, .cancel_futures = true});
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
  release.count_down();
  for (auto& f : running) f.get();
  EXPECT_EQ(finished.load(), 2);
  EXPECT_THROW(this->executor.submit([] {}), BrokenExecutor);
}

TYPED_TEST(FuturesConformance, AsCompletedYieldsInCompletionOrderAndTimesOut) {
  test::Latch& release_second = this->latch(1);
  auto first = this->executor.submit([] { return 1; });
  auto second = this->executor.submit([&] {
    release_second.wait();
    return 2;
  });
  first.wait();
  std::vector<Future<int>> futures{second, first};
  std::vector<int> order;
  try {
    for (const auto& f : as_completed(futures, 50ms)) order.push_back(f.get());
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_STREQ(e.what(), "1 (of 2) futures unfinished");
  }
  EXPECT_EQ(order, std::vector<int>{1});
  release_second.count_down();
  order.clear();
  for (const auto& f : as_completed(futures)) order.push_back(f.get());
  // Both may be done already (then they come in input order): only the set is fixed.
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TYPED_TEST(FuturesConformance, WaitFirstExceptionReturnsAtFirstFailure) {
  test::Latch& release = this->latch(1);
  ReleaseOnExit guard{release};
  std::vector<Future<int>> futures;
  futures.push_back(this->executor.submit([&] {
    release.wait();
    return 0;
  }));
  futures.push_back(this->executor.submit([]() -> int { throw std::runtime_error("x"); }));
  const auto result = wait(futures, ReturnWhen::FirstException);
  ASSERT_EQ(result.done.size(), 1u);
  EXPECT_NE(result.done[0].exception(), nullptr);
  EXPECT_EQ(result.not_done.size(), 1u);
}

TYPED_TEST(FuturesConformance, MapYieldsInInputOrderAndThrowsAtTheFailedElement) {
  std::vector<int> out;
  try {
    for (int y : this->executor.map(
             [](int x) {
               if (x == 5) throw std::range_error("five");
               return x * 10;
             },
             std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}, MapOptions{.chunksize = 2})) {
      out.push_back(y);
    }
    FAIL();
  } catch (const std::range_error&) {
  }
  EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40}));
}

TYPED_TEST(FuturesConformance, DoneCallbacksRunExactlyOnceAlsoWhenAddedLate) {
  std::atomic<int> calls{0};
  test::Latch& both = this->latch(2);
  auto f = this->executor.submit([] { return 1; });
  f.add_done_callback([&] {
    ++calls;
    both.count_down();
  });
  f.wait();
  f.add_done_callback([&](const Future<int>& done) {
    calls += done.get() * 10;
    both.count_down();
  });
  both.wait();
  this->executor.shutdown();  // nothing can still be running on a worker
  EXPECT_EQ(calls.load(), 11);
}

TYPED_TEST(FuturesConformance, ThrowingCallbackDoesNotBreakTheExecutor) {
  std::atomic<int> reported{0};
  auto previous = set_unhandled_exception_handler([&](std::exception_ptr, std::string_view) { ++reported; });
  test::Latch& done = this->latch(1);
  auto f = this->executor.submit([] { return 1; });
  f.add_done_callback([] { throw std::runtime_error("callback bug"); });
  f.add_done_callback([&] { done.count_down(); });
  done.wait();
  EXPECT_EQ(this->executor.submit([] { return 2; }).get(), 2);
  set_unhandled_exception_handler(previous);
  EXPECT_EQ(reported.load(), 1);
}

}  // namespace
}  // namespace concur
