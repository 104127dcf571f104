// Stress: many tiny tasks, concurrent submitters, submits racing shutdown, racing
// cancels and callbacks, nested waits. Loop counts scale with CONCUR_STRESS_SCALE.
// Payloads are plain non-atomic data, so ThreadSanitizer checks the happens-before
// edges that futures promise.
#include <concur/thread/thread_pool.hpp>

#include <concur/core/wait.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include "support/latch.hpp"
#include <thread>
#include <vector>

namespace concur {
namespace {

class ThreadPoolStress : public testing::TestWithParam<std::size_t> {};

TEST_P(ThreadPoolStress, MillionTinyTasks) {
  test::NoLeaks check;
  const std::size_t n = test::scaled(1'000'000);
  ThreadPool pool(GetParam());
  std::vector<Future<std::size_t>> futures;
  futures.reserve(n);
  for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit([i] { return i; }));
  std::size_t sum = 0;
  for (auto& f : futures) sum += f.get();
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

TEST_P(ThreadPoolStress, PlainDataIsPublishedThroughFutures) {
  ThreadPool pool(GetParam());
  const std::size_t n = test::scaled(20'000);
  std::vector<int> data(n, 0);  // written by workers, read here: no atomics
  std::vector<Future<void>> futures;
  for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit([&data, i] { data[i] = 1; }));
  (void)wait(futures);
  std::size_t ones = 0;
  for (int v : data) ones += static_cast<std::size_t>(v);
  EXPECT_EQ(ones, n);
}

TEST_P(ThreadPoolStress, SeveralThreadsSubmitAtOnce) {
  ThreadPool pool(GetParam());
  constexpr int kSubmitters = 4;
  const std::size_t per = test::scaled(50'000);
  std::vector<std::vector<Future<std::size_t>>> results(kSubmitters);
  test::Latch go(kSubmitters);
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      go.arrive_and_wait();
      for (std::size_t i = 0; i < per; ++i) results[s].push_back(pool.submit([i] { return i; }));
    });
  }
  for (auto& t : submitters) t.join();
  for (auto& list : results) {
    for (std::size_t i = 0; i < per; ++i) ASSERT_EQ(list[i].get(), i);
  }
}

TEST_P(ThreadPoolStress, SubmitsRacingShutdownAreNeverLost) {
  const std::size_t rounds = test::scaled(50);
  for (std::size_t round = 0; round < rounds; ++round) {
    ThreadPool pool(GetParam());
    constexpr int kSubmitters = 3;
    std::vector<std::vector<Future<int>>> accepted(kSubmitters);
    test::Latch go(kSubmitters + 1);
    std::vector<std::thread> submitters;
    for (int s = 0; s < kSubmitters; ++s) {
      submitters.emplace_back([&, s] {
        go.arrive_and_wait();
        for (int i = 0; i < 100'000; ++i) {
          try {
            accepted[s].push_back(pool.submit([i] { return i; }));
          } catch (const BrokenExecutor&) {
            return;  // refused: fine; it was never accepted
          }
        }
      });
    }
    go.arrive_and_wait();
    pool.shutdown({.wait = true});
    for (auto& t : submitters) t.join();
    for (auto& list : accepted) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        ASSERT_TRUE(list[i].ready()) << "an accepted task was lost by shutdown";
        ASSERT_EQ(list[i].get(), static_cast<int>(i));
      }
    }
  }
}

TEST_P(ThreadPoolStress, CancelRacingExecution) {
  ThreadPool pool(GetParam());
  const std::size_t n = test::scaled(20'000);
  std::vector<char> ran(n, 0);
  std::vector<Future<void>> futures;
  for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit([&ran, i] { ran[i] = 1; }));
  std::vector<char> cancelled(n, 0);
  for (std::size_t i = 0; i < n; i += 2) cancelled[i] = futures[i].cancel() ? 1 : 0;
  for (std::size_t i = 0; i < n; ++i) {
    futures[i].wait();
    ASSERT_EQ(futures[i].cancelled(), cancelled[i] == 1) << i;
    ASSERT_NE(ran[i] == 1, cancelled[i] == 1) << "a task either ran or was cancelled: " << i;
  }
}

TEST_P(ThreadPoolStress, CallbacksRacingCompletionRunExactlyOnce) {
  ThreadPool pool(GetParam());
  const std::size_t n = test::scaled(20'000);
  std::vector<std::atomic<int>> calls(n);
  std::vector<Future<std::size_t>> futures;
  for (std::size_t i = 0; i < n; ++i) futures.push_back(pool.submit([i] { return i; }));
  for (std::size_t i = 0; i < n; ++i) {
    futures[i].add_done_callback([&calls](const Future<std::size_t>& f) { ++calls[f.get()]; });
  }
  pool.shutdown();  // every callback has run once the workers are gone
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(calls[i].load(), 1) << i;
}

TEST_P(ThreadPoolStress, RecursiveNestedWaits) {
  ThreadPool pool(GetParam());
  std::function<long(int)> fib = [&](int k) -> long {
    if (k < 2) return k;
    auto left = pool.submit(fib, k - 1);
    const long right = fib(k - 2);
    return left.get() + right;
  };
  EXPECT_EQ(pool.submit(fib, test::scaled(1) > 1 ? 22 : 20).get(),
            test::scaled(1) > 1 ? 17711 : 6765);
}

// Outside submitters and tasks that submit and await subtasks, all at once: the inbox,
// the deques, stealing and nested waits interleave.
TEST_P(ThreadPoolStress, MixedOutsideAndNestedSubmits) {
  ThreadPool pool(GetParam());
  constexpr int kSubmitters = 3;
  const std::size_t per = test::scaled(2'000);
  std::vector<std::vector<Future<std::size_t>>> results(kSubmitters);
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      for (std::size_t i = 0; i < per; ++i) {
        results[s].push_back(pool.submit([&pool, i] {
          auto a = pool.submit([i] { return i; });
          auto b = pool.submit([i] { return 2 * i; });
          return a.get() + b.get();
        }));
      }
    });
  }
  for (auto& t : submitters) t.join();
  for (auto& list : results) {
    for (std::size_t i = 0; i < per; ++i) ASSERT_EQ(list[i].get(), 3 * i);
  }
}

INSTANTIATE_TEST_SUITE_P(Workers, ThreadPoolStress, testing::Values(1, 2, 4, 8));

}  // namespace
}  // namespace concur
