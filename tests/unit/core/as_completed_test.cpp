#include <concur/core/as_completed.hpp>

#include <concur/core/promise.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

TEST(AsCompleted, YieldsDoneFirstThenInCompletionOrder) {
  std::vector<Promise<int>> promises(4);
  std::vector<Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  promises[3].set_value(3);  // done before the call: yielded first
  std::vector<int> order;
  for (const Future<int>& f : as_completed(futures)) {
    order.push_back(f.get());
    // Complete the next one only after the previous was yielded: the order is fixed.
    if (order.size() == 1) promises[1].set_value(1);
    if (order.size() == 2) promises[0].set_value(0);
    if (order.size() == 3) {
      std::thread([&] { promises[2].set_value(2); }).join();
    }
  }
  EXPECT_EQ(order, (std::vector<int>{3, 1, 0, 2}));
}

TEST(AsCompleted, TimeoutNamesHowManyWereUnfinished) {
  std::vector<Promise<int>> promises(3);
  std::vector<Future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  promises[0].set_value(0);
  int yielded = 0;
  try {
    for (const auto& f : as_completed(futures, 20ms)) {
      (void)f;
      ++yielded;
    }
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_EQ(std::string(e.what()), "2 (of 3) futures unfinished");
  }
  EXPECT_EQ(yielded, 1);
}

TEST(AsCompleted, DuplicatesAreYieldedOnce) {
  Promise<int> p;
  Future<int> f = p.get_future();
  p.set_value(1);
  const std::vector<Future<int>> twice{f, f};
  int n = 0;
  for (const auto& done : as_completed(twice)) {
    EXPECT_EQ(done.get(), 1);
    ++n;
  }
  EXPECT_EQ(n, 1);
}

TEST(AsCompleted, EmptyInputYieldsNothing) {
  const std::vector<Future<int>> none;
  int n = 0;
  for (const auto& f : as_completed(none)) {
    (void)f;
    ++n;
  }
  EXPECT_EQ(n, 0);
}

TEST(AsCompleted, CancelledFuturesAreYielded) {
  Promise<int> p;
  Future<int> f = p.get_future();
  const std::vector<Future<int>> one{f};
  f.cancel();
  for (const auto& done : as_completed(one)) EXPECT_TRUE(done.cancelled());
}

TEST(AsCompleted, EmptyFutureInInputThrows) {
  const std::vector<Future<int>> bad(1);
  EXPECT_THROW((void)as_completed(bad), InvalidState);
}

}  // namespace
}  // namespace concur
