// The loop's thread-safe entry points under load: call_soon_threadsafe from many threads
// while the loop sleeps and wakes, and futures completed by a ThreadPool racing with
// cancellation of the tasks that await them. Loops scale with CONCUR_STRESS_SCALE.
#include <concur/loop/event_loop.hpp>

#include <concur/loop/await_future.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/thread/thread_pool.hpp>

#include "support/leak_check.hpp"
#include "support/threadsafe_posts.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

TEST(EventLoopStress, ThreadsafeCallsWhileTheLoopSleepsAndWakes) {
  for (std::size_t round = 0; round < test::scaled(20); ++round) {
    EXPECT_EQ(run(test::count_threadsafe_posts(4, 2000)), 8000);
  }
}

int identity(int x) { return x; }

Task<long> await_or_cancel(ThreadPool& pool, int n) {
  std::vector<TaskHandle<int>> waiters;
  for (int i = 0; i < n; ++i) {
    waiters.push_back(spawn([](Future<int> f) -> Task<int> { co_return co_await std::move(f); }(pool.submit(identity, i))));
  }
  for (int i = 0; i < n; i += 3) waiters[static_cast<std::size_t>(i)].cancel();
  long sum = 0;
  for (auto& w : waiters) {
    try {
      sum += co_await w;
    } catch (const CancelledError&) {
    }
  }
  co_return sum;
}

TEST(EventLoopStress, FuturesCompletingWhileTheirAwaitersAreCancelled) {
  { EventLoop first; }  // libuv opens a process-wide signal pipe once, on the first loop
  test::NoLeaks no_leaks;
  ThreadPool pool(2);
  for (std::size_t round = 0; round < test::scaled(50); ++round) {
    const long sum = run(await_or_cancel(pool, 300));
    long uncancelled = 0;
    for (int i = 0; i < 300; ++i) uncancelled += i % 3 != 0 ? i : 0;
    EXPECT_GE(sum, uncancelled) << "every task that was not cancelled delivered its value";
  }
}

}  // namespace
}  // namespace concur
