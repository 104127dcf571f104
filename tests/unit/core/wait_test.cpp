#include <concur/core/wait.hpp>

#include <concur/core/promise.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

struct Three {
  std::vector<Promise<int>> promises = std::vector<Promise<int>>(3);
  std::vector<Future<int>> futures;
  Three() {
    for (auto& p : promises) futures.push_back(p.get_future());
  }
};

TEST(Wait, AllCompletedReturnsEverythingDone) {
  Three t;
  std::thread setter([&] {
    for (int i = 0; i < 3; ++i) t.promises[i].set_value(i);
  });
  const auto result = wait(t.futures);
  setter.join();
  EXPECT_EQ(result.done.size(), 3u);
  EXPECT_TRUE(result.not_done.empty());
  EXPECT_EQ(result.done[2].get(), 2);  // input order
}

TEST(Wait, TimeoutReturnsWhatIsNotDoneWithoutThrowing) {
  Three t;
  t.promises[1].set_value(1);
  const auto start = std::chrono::steady_clock::now();
  const auto result = wait(t.futures, ReturnWhen::AllCompleted, 20ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  ASSERT_EQ(result.done.size(), 1u);
  EXPECT_EQ(result.done[0].get(), 1);
  EXPECT_EQ(result.not_done.size(), 2u);
}

TEST(Wait, FirstCompletedReturnsAtTheFirstCompletion) {
  Three t;
  std::thread setter([&] { t.promises[2].set_value(2); });
  const auto result = wait(t.futures, ReturnWhen::FirstCompleted);
  setter.join();
  ASSERT_GE(result.done.size(), 1u);
  EXPECT_EQ(result.done[0].get(), 2);
}

TEST(Wait, FirstCompletedCountsCancellation) {
  Three t;
  t.futures[0].cancel();
  const auto result = wait(t.futures, ReturnWhen::FirstCompleted, 5s);
  ASSERT_EQ(result.done.size(), 1u);
  EXPECT_TRUE(result.done[0].cancelled());
}

TEST(Wait, FirstExceptionReturnsAtTheFirstFailure) {
  Three t;
  t.promises[0].set_value(0);  // a success does not end the wait
  std::thread setter(
      [&] { t.promises[1].set_exception(std::make_exception_ptr(std::runtime_error("x"))); });
  const auto result = wait(t.futures, ReturnWhen::FirstException);
  setter.join();
  EXPECT_EQ(result.done.size(), 2u);
  EXPECT_EQ(result.not_done.size(), 1u);
}

TEST(Wait, FirstExceptionWithoutFailureWaitsForAll) {
  Three t;
  t.futures[0].cancel();  // cancellation is not an exception
  std::thread setter([&] {
    t.promises[1].set_value(1);
    t.promises[2].set_value(2);
  });
  const auto result = wait(t.futures, ReturnWhen::FirstException);
  setter.join();
  EXPECT_EQ(result.done.size(), 3u);
}

TEST(Wait, FirstExceptionAlreadyFailedReturnsAtOnce) {
  Three t;
  t.promises[2].set_exception(std::make_exception_ptr(std::runtime_error("x")));
  const auto result = wait(t.futures, ReturnWhen::FirstException, 5s);
  EXPECT_EQ(result.done.size(), 1u);
}

TEST(Wait, EmptyInputReturnsAtOnce) {
  const std::vector<Future<int>> none;
  const auto result = wait(none, ReturnWhen::FirstCompleted);
  EXPECT_TRUE(result.done.empty());
  EXPECT_TRUE(result.not_done.empty());
}

TEST(Wait, EmptyFutureInInputThrows) {
  const std::vector<Future<int>> bad(2);
  EXPECT_THROW((void)wait(bad), InvalidState);
}

TEST(Wait, DuplicatesAppearAsGiven) {
  Promise<int> p;
  Future<int> f = p.get_future();
  p.set_value(1);
  const std::vector<Future<int>> twice{f, f};
  EXPECT_EQ(wait(twice).done.size(), 2u);
}

}  // namespace
}  // namespace concur
