// The concurrent.futures behaviours of futures_conformance_test.cpp, against ProcessPool
// (whose tasks cannot share a latch with the test: they synchronise through files).
#include <concur/core/as_completed.hpp>
#include <concur/core/wait.hpp>
#include <concur/process/process_pool.hpp>

#include "support/file_gate.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

int identity(int x) { return x; }
int fail_with_range_error(int) { throw std::range_error("five"); }
int block_until(std::string started, std::string release) {
  test::append_byte(started);
  test::wait_for_file(release);
  return 2;
}

TEST(ProcessPoolConformance, CancelSucceedsOnlyWhilePending) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(1);
  auto running = pool.submit(block_until, dir.file("started"), dir.file("release"));
  auto sent_ahead = pool.submit(identity, 1);  // prefetched: already sent to the worker
  auto pending = pool.submit(identity, 2);
  test::wait_for_file(dir.file("started"), 1);
  EXPECT_TRUE(pending.cancel());
  EXPECT_TRUE(pending.cancelled());
  test::touch(dir.file("release"));
  EXPECT_EQ(running.get(), 2);
  EXPECT_EQ(sent_ahead.get(), 1);
  EXPECT_FALSE(running.cancel()) << "a finished future cannot be cancelled";
  EXPECT_THROW((void)pending.get(), CancelledError);
}

TEST(ProcessPoolConformance, AsCompletedYieldsInCompletionOrderAndTimesOut) {
  test::TempDir dir;
  ProcessPool pool(2);
  auto first = pool.submit(identity, 1);
  auto second = pool.submit(block_until, dir.file("started"), dir.file("release"));
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
  test::touch(dir.file("release"));
  order.clear();
  for (const auto& f : as_completed(futures)) order.push_back(f.get());
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(ProcessPoolConformance, WaitFirstExceptionReturnsAtFirstFailure) {
  test::TempDir dir;
  ProcessPool pool(2);
  std::vector<Future<int>> futures;
  futures.push_back(pool.submit(block_until, dir.file("started"), dir.file("release")));
  futures.push_back(pool.submit(fail_with_range_error, 5));
  const auto result = wait(futures, ReturnWhen::FirstException);
  ASSERT_EQ(result.done.size(), 1u);
  EXPECT_NE(result.done[0].exception(), nullptr);
  EXPECT_EQ(result.not_done.size(), 1u);
  test::touch(dir.file("release"));
}

TEST(ProcessPoolConformance, MapThrowsAtTheFailedElementAfterTheOnesBefore) {
  ProcessPool pool(2);
  std::vector<int> out;
  try {
    for (int y : pool.map(
             [](int x) {
               if (x == 5) throw std::range_error("five");
               return x * 10;
             },
             std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}, MapOptions{.chunksize = 2})) {
      out.push_back(y);
    }
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::range_error");
  }
  EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40}));
}

TEST(ProcessPoolConformance, DoneCallbacksRunExactlyOnceAlsoWhenAddedLate) {
  std::atomic<int> calls{0};
  ProcessPool pool(1);
  auto f = pool.submit(identity, 1);
  f.add_done_callback([&] { ++calls; });
  f.wait();
  f.add_done_callback([&](const Future<int>& done) { calls += done.get() * 10; });
  pool.shutdown();  // the manager thread ran the first callback, or we did
  EXPECT_EQ(calls.load(), 11);
}

TEST(ProcessPoolConformance, ACallbackMaySubmitToTheSamePool) {
  ProcessPool pool(1);
  Future<int> inner;
  std::atomic<bool> submitted{false};
  auto f = pool.submit(identity, 1);
  f.add_done_callback([&] {
    inner = pool.submit(identity, 2);
    submitted = true;
  });
  f.wait();
  pool.submit(identity, 3).get();  // the callback has run by now (results publish in order)
  ASSERT_TRUE(submitted.load());
  EXPECT_EQ(inner.get(), 2);
}

}  // namespace
}  // namespace concur
