#include <concur/thread/thread_pool.hpp>


#include "support/leak_check.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include "support/latch.hpp"
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

int add(int a, int b) { return a + b; }

TEST(ThreadPool, SubmitRunsFunctionsWithArguments) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.submit(add, 2, 3).get(), 5);
  EXPECT_EQ(pool.submit([](const std::string& s) { return s + "!"; }, std::string("hi")).get(), "hi!");
  auto owned = std::make_unique<int>(4);
  EXPECT_EQ(pool.submit([](std::unique_ptr<int> p) { return *p * 2; }, std::move(owned)).get(), 8);
  pool.submit([] {}).get();
}

TEST(ThreadPool, DefaultWorkersIsTheHardware) {
  ThreadPool pool;
  EXPECT_EQ(pool.workers(), ThreadPool::default_workers());
  EXPECT_GE(ThreadPool::default_workers(), 1u);
}

TEST(ThreadPool, ZeroWorkersIsRejected) {
  EXPECT_THROW(ThreadPool(0), std::invalid_argument);
}

TEST(ThreadPool, TaskExceptionsReachTheFuture) {
  ThreadPool pool(1);
  auto f = pool.submit([]() -> int { throw std::out_of_range("oops"); });
  EXPECT_THROW((void)f.get(), std::out_of_range);
  EXPECT_EQ(pool.submit([] { return 1; }).get(), 1) << "the worker survives";
}

TEST(ThreadPool, SubmitAfterShutdownThrowsBrokenExecutor) {
  ThreadPool pool(1);
  pool.shutdown();
  try {
    pool.submit([] {});
    FAIL() << "expected BrokenExecutor";
  } catch (const BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("shut down"), std::string::npos);
  }
  pool.shutdown();  // idempotent
}

TEST(ThreadPool, ShutdownWithoutWaitStillFinishesQueuedTasks) {
  std::atomic<int> ran{0};
  std::vector<Future<void>> futures;
  {
    test::Latch gate(1);
    ThreadPool pool(1);
    futures.push_back(pool.submit([&] { gate.wait(); }));
    for (int i = 0; i < 10; ++i) futures.push_back(pool.submit([&] { ++ran; }));
    pool.shutdown({.wait = false});
    gate.count_down();
  }  // the destructor waits
  EXPECT_EQ(ran.load(), 10);
  for (auto& f : futures) EXPECT_NO_THROW(f.get());
}

TEST(ThreadPool, ShutdownCancelFuturesCancelsOnlyWhatIsQueued) {
  test::Latch started(1), gate(1);
  ThreadPool pool(1);
  auto running = pool.submit([&] {
    started.count_down();
    gate.wait();
    return 1;
  });
  std::vector<Future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(pool.submit([] { return 2; }));
  started.wait();
  // Open the gate only once shutdown has cancelled the queue (the last queued future is
  // cancelled last): shutdown itself blocks until the running task ends.
  queued.back().add_done_callback([&] { gate.count_down(); });
  pool.shutdown({.wait = true, .cancel_futures = true});
  EXPECT_EQ(running.get(), 1);
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
}

TEST(ThreadPool, InitializerRunsOncePerWorkerOnItsThread) {
  std::mutex mu;
  std::set<std::thread::id> ids;
  {
    ThreadPool pool(3, {.initializer = [&] {
                          std::lock_guard lock(mu);
                          ids.insert(std::this_thread::get_id());
                        }});
    pool.submit([] {}).get();
  }
  EXPECT_EQ(ids.size(), 3u);
}

void expect_broken_by_initializer(const BrokenExecutor& e) {
  EXPECT_NE(std::string(e.what()).find("initializer failed: no licence for libfoo"),
            std::string::npos)
      << e.what();
}

TEST(ThreadPool, FailingInitializerBreaksThePoolWithTheReason) {
  ThreadPool pool(2, {.initializer = [] { throw std::runtime_error("no licence for libfoo"); }});
  // A task submitted before the failure fails with the reason; once it has failed, the
  // pool refuses new work with the same reason. Nothing hangs.
  try {
    auto f = pool.submit([] { return 1; });
    try {
      (void)f.get();
      FAIL() << "no worker can run a task";
    } catch (const BrokenExecutor& e) {
      expect_broken_by_initializer(e);
    }
  } catch (const BrokenExecutor& e) {
    expect_broken_by_initializer(e);  // the pool broke before the submit
  }
  try {
    pool.submit([] {});
    FAIL() << "a broken pool must refuse work";
  } catch (const BrokenExecutor& e) {
    expect_broken_by_initializer(e);
  }
}

TEST(ThreadPool, NestedWaitWithOneWorkerDoesNotDeadlock) {
  ThreadPool pool(1);
  std::function<long(int)> fib = [&](int n) -> long {
    if (n < 2) return n;
    auto left = pool.submit(fib, n - 1);
    const long right = fib(n - 2);
    return left.get() + right;
  };
  EXPECT_EQ(pool.submit(fib, 18).get(), 2584);
}

TEST(ThreadPool, NestedWaitRunsOtherQueuedWork) {
  test::Latch submitted(1);
  ThreadPool pool(1);
  // The outer task waits for a task it did not submit and that is queued behind it.
  Future<int> later;
  auto outer = pool.submit([&] {
    submitted.wait();
    return later.get() + 1;
  });
  later = pool.submit([] { return 41; });
  submitted.count_down();
  EXPECT_EQ(outer.get(), 42);
}

// Two tasks that wait for each other finish only if they run at the same time: an idle
// worker must be woken for the second task, whether it came from outside or from a
// task. Bounded: a task gives up after 10 s and reports false.
TEST(ThreadPool, TasksSubmittedTogetherRunInParallel) {
  using namespace std::chrono_literals;
  ThreadPool pool(2);
  for (int round = 0; round < 50; ++round) {
    test::Latch both(2);
    auto meet = [&both] {
      both.count_down();
      return both.wait_for(10s);
    };
    auto a = pool.submit(meet);
    auto b = pool.submit(meet);
    ASSERT_TRUE(a.get() && b.get()) << "round " << round;
  }
}

TEST(ThreadPool, SubtasksSubmittedTogetherRunInParallel) {
  using namespace std::chrono_literals;
  ThreadPool pool(2);
  for (int round = 0; round < 50; ++round) {
    test::Latch both(2);
    const bool met = pool.submit([&] {
                           auto meet = [&both] {
                             both.count_down();
                             return both.wait_for(10s);
                           };
                           auto a = pool.submit(meet);
                           auto b = pool.submit(meet);
                           return a.get() && b.get();  // runs one inline, the other is stolen
                         }).get();
    ASSERT_TRUE(met) << "round " << round;
  }
}

TEST(ThreadPool, WorkersAreNamed) {
  ThreadPool pool(2, {.name = "physics"});
  const std::string name = pool.submit([] {
                             char buffer[16] = {};
                             pthread_getname_np(pthread_self(), buffer, sizeof buffer);
                             return std::string(buffer);
                           }).get();
  EXPECT_TRUE(name == "physics-0" || name == "physics-1") << name;
}

TEST(ThreadPool, ShutdownWithWaitFromOwnTaskThrows) {
  ThreadPool pool(1);
  auto f = pool.submit([&] { pool.shutdown({.wait = true}); });
  EXPECT_THROW(f.get(), InvalidState);
}

TEST(ThreadPool, NoThreadOrFdLeftAfterDestruction) {
  test::NoLeaks check;
  for (int round = 0; round < 3; ++round) {
    ThreadPool pool(4);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([i] { return i; }));
    for (auto& f : fs) f.wait();
  }
}

TEST(ThreadPool, NoSpinningStillWorks) {
  ThreadPool pool(2, {.idle_spin = std::chrono::microseconds(0)});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pool.submit([i] { return i; }).get(), i);
}

}  // namespace
}  // namespace concur
