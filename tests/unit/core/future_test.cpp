#include <concur/core/future.hpp>

#include <concur/core/promise.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

// Counts copies, so tests can tell a move from a copy.
struct Tracked {
  static inline int copies = 0;
  int value = 0;
  explicit Tracked(int v) : value(v) {}
  Tracked(const Tracked& o) : value(o.value) { ++copies; }
  Tracked(Tracked&&) noexcept = default;
  Tracked& operator=(const Tracked&) = default;
  Tracked& operator=(Tracked&&) noexcept = default;
};

TEST(Future, EmptyFutureThrowsInvalidState) {
  Future<int> f;
  EXPECT_FALSE(f.valid());
  EXPECT_THROW((void)f.ready(), InvalidState);
  EXPECT_THROW((void)f.get(), InvalidState);
  EXPECT_THROW(f.wait(), InvalidState);
  EXPECT_THROW(f.cancel(), InvalidState);
}

TEST(Future, MovedFromFutureIsEmpty) {
  Promise<int> p;
  Future<int> a = p.get_future();
  Future<int> b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_TRUE(b.valid());
}

TEST(Future, GetReturnsTheValueAndCopiesShareIt) {
  Promise<std::string> p;
  Future<std::string> f = p.get_future();
  Future<std::string> copy = f;
  EXPECT_FALSE(f.ready());
  p.set_value("result");
  EXPECT_TRUE(f.ready());
  EXPECT_EQ(f.get(), "result");
  EXPECT_EQ(&f.get(), &copy.get());  // one shared result
  EXPECT_EQ(f.get(), "result");      // get() may be called again
}

TEST(Future, RvalueGetMovesWhenSoleHolderAndCopiesOtherwise) {
  Tracked::copies = 0;
  {
    Promise<Tracked> p;
    Future<Tracked> f = p.get_future();
    p.set_value(Tracked(1));
    p = Promise<Tracked>();  // drop the promise's reference: f is the only holder
    EXPECT_EQ(std::move(f).get().value, 1);
    EXPECT_EQ(Tracked::copies, 0);
  }
  {
    Promise<Tracked> p;
    Future<Tracked> f = p.get_future();
    Future<Tracked> other = f;
    p.set_value(Tracked(2));
    EXPECT_EQ(std::move(f).get().value, 2);
    EXPECT_EQ(Tracked::copies, 1);
    EXPECT_EQ(other.get().value, 2);  // the other holder still sees the value
  }
}

TEST(Future, MoveOnlyValues) {
  Promise<std::unique_ptr<int>> p;
  Future<std::unique_ptr<int>> f = p.get_future();
  p.set_value(std::make_unique<int>(5));
  EXPECT_EQ(*f.get(), 5);
  std::unique_ptr<int> taken = std::move(f).get();
  EXPECT_EQ(*taken, 5);
}

TEST(Future, VoidFuture) {
  Promise<void> p;
  Future<void> f = p.get_future();
  p.set_value();
  EXPECT_NO_THROW(f.get());
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(Future, ExceptionsPropagateWithTheirType) {
  Promise<int> p;
  Future<int> f = p.get_future();
  p.set_exception(std::make_exception_ptr(std::out_of_range("index 3")));
  EXPECT_THROW((void)f.get(), std::out_of_range);
  EXPECT_THROW((void)std::move(f).get(), std::out_of_range);
}

TEST(Future, ExceptionReturnsTheErrorOrNull) {
  Promise<int> ok, bad;
  ok.set_value(1);
  bad.set_exception(std::make_exception_ptr(std::logic_error("bad")));
  EXPECT_EQ(ok.get_future().exception(), nullptr);
  std::exception_ptr e = bad.get_future().exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), std::logic_error);
}

TEST(Future, CancelWhilePendingSucceedsAndGetThrows) {
  Promise<int> p;
  Future<int> f = p.get_future();
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.ready());
  EXPECT_TRUE(f.cancel()) << "Python: cancel() of a cancelled future returns True";
  EXPECT_THROW((void)f.get(), CancelledError);
  EXPECT_THROW((void)f.exception(), CancelledError);
  EXPECT_TRUE(p.cancelled());
  p.set_value(3);  // dropped: cancellation won
  EXPECT_THROW((void)f.get(), CancelledError);
}

TEST(Future, CancelAfterFinishFails) {
  Promise<int> p;
  Future<int> f = p.get_future();
  p.set_value(1);
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.get(), 1);
}

TEST(Future, WaitForTimesOutThenSucceeds) {
  Promise<int> p;
  Future<int> f = p.get_future();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.wait_for(20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);  // never early
  EXPECT_FALSE(f.wait_until(std::chrono::system_clock::now() + 1ms));
  p.set_value(1);
  EXPECT_TRUE(f.wait_for(0s));
  EXPECT_TRUE(f.wait_until(std::chrono::system_clock::now()));
}

TEST(Future, WaitWakesWhenAnotherThreadSetsTheValue) {
  Promise<int> p;
  Future<int> f = p.get_future();
  std::thread setter([&] { p.set_value(42); });
  EXPECT_EQ(f.get(), 42);
  setter.join();
}

TEST(Future, ManyWaitersAllWake) {
  Promise<int> p;
  Future<int> f = p.get_future();
  std::atomic<int> woke{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 8; ++i) {
    waiters.emplace_back([f, &woke] {
      if (f.get() == 7) ++woke;
    });
  }
  p.set_value(7);
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woke.load(), 8);
}

TEST(Future, DoneCallbacksRunOnceInRegistrationOrder) {
  Promise<int> p;
  Future<int> f = p.get_future();
  std::vector<int> order;
  f.add_done_callback([&](const Future<int>& done) { order.push_back(done.get()); });
  f.add_done_callback([&] { order.push_back(-1); });
  EXPECT_TRUE(order.empty());
  p.set_value(5);
  EXPECT_EQ(order, (std::vector<int>{5, -1}));
}

TEST(Future, DoneCallbackAddedAfterCompletionRunsAtOnce) {
  Promise<int> p;
  Future<int> f = p.get_future();
  p.set_value(9);
  int seen = 0;
  f.add_done_callback([&](const Future<int>& done) { seen = done.get(); });
  EXPECT_EQ(seen, 9);
}

TEST(Future, DoneCallbacksRunOnCancel) {
  Promise<int> p;
  Future<int> f = p.get_future();
  bool cancelled = false;
  f.add_done_callback([&](const Future<int>& done) { cancelled = done.cancelled(); });
  f.cancel();
  EXPECT_TRUE(cancelled);
}

}  // namespace
}  // namespace concur
