// ProcessPool under load, looped: submits racing shutdown, and workers killed from
// outside while tasks stream through. Loop counts scale with CONCUR_STRESS_SCALE.
#include <concur/process/process_pool.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

namespace concur {
namespace {

int twice(int x) { return 2 * x; }

TEST(ProcessPoolStress, SubmitsRacingShutdownEitherRunOrAreRefused) {
  test::NoLeaks no_leaks;
  const std::size_t rounds = test::scaled(5);
  for (std::size_t round = 0; round < rounds; ++round) {
    ProcessPool pool(2);
    std::atomic<int> refused{0};
    std::vector<std::vector<Future<int>>> accepted(2);
    std::vector<std::thread> submitters;
    for (std::size_t t = 0; t < 2; ++t) {
      submitters.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) {
          try {
            accepted[t].push_back(pool.submit(twice, i));
          } catch (const BrokenExecutor&) {
            ++refused;
          }
        }
      });
    }
    std::this_thread::yield();
    pool.shutdown({.wait = true});
    for (auto& thread : submitters) thread.join();
    std::size_t ran = 0;
    for (auto& futures : accepted) {
      for (auto& f : futures) {
        EXPECT_EQ(f.get() % 2, 0);
        ++ran;
      }
    }
    EXPECT_EQ(ran + static_cast<std::size_t>(refused.load()), 10000u);
  }
}

// The pids of the workers that said they were ready. Killing one that is still starting
// would count as a failed start (three in a row break the pool), not what is tested.
class ReadyWorkers : public Observer {
 public:
  void on_worker_process(std::size_t /*worker*/, int pid) override {
    std::lock_guard lock(mutex_);
    ready_.push_back(pid);
  }
  std::vector<int> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(ready_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<int> ready_;
};

TEST(ProcessPoolStress, KilledWorkersCostOnlyTheTasksTheyRan) {
  test::NoLeaks no_leaks;
  auto ready = std::make_shared<ReadyWorkers>();
  ProcessPool pool(2, {.observer = ready});
  (void)pool.submit(twice, 0).get();  // a worker is ready: the first round kills it
  std::vector<Future<int>> futures;
  const int n = static_cast<int>(test::scaled(20000));
  const int every = n / 10;  // ten rounds of kills
  int kills = 0;
  for (int i = 0; i < n; ++i) {
    futures.push_back(pool.submit(twice, i));
    if (i % every == every / 2) {
      for (int pid : ready->take()) kills += ::kill(pid, SIGKILL) == 0;
    }
  }
  EXPECT_GT(kills, 0);
  int died = 0;
  for (int i = 0; i < n; ++i) {
    try {
      EXPECT_EQ(futures[i].get(), 2 * i);
    } catch (const WorkerDied& e) {
      EXPECT_EQ(e.signal(), SIGKILL);
      ++died;
    }
  }
  EXPECT_LE(died, kills) << "at most the running task of each killed worker";
}

// Busy for `us` microseconds, then returns it.
int busy_for(int us) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
  }
  return us;
}

// Cancelling a running task stops its worker. When the task ends just before the signal
// lands, the worker dies running the task queued behind it, which did nothing wrong: it
// goes back in line and runs again, never failing with WorkerDied. The delay before each
// cancel walks a staircase around the first task's end (down after a cancel that came too
// late, up after one that stopped the task), so the cancels keep landing at that end
// however fast the worker is on this machine at this moment: with the second core gone,
// or under a sanitizer, the end moves by milliseconds and the staircase follows it.
TEST(ProcessPoolStress, ACancelThatArrivesAsItsTaskEndsSparesTheNextTask) {
  test::NoLeaks no_leaks;
  ProcessPool pool(1);
  (void)pool.submit(twice, 0).get();
  const std::size_t rounds = test::scaled(300);
  int delay_us = 200;
  int cancelled = 0;
  int too_late = 0;
  for (std::size_t round = 0; round < rounds; ++round) {
    Future<int> first = pool.submit(busy_for, 300);
    Future<int> next = pool.submit(twice, static_cast<int>(round));
    busy_for(delay_us);
    (void)first.cancel();  // running: false, and its worker is stopped
    try {
      EXPECT_EQ(next.get(), 2 * static_cast<int>(round)) << "round " << round;
    } catch (const WorkerDied& e) {
      ADD_FAILURE() << "round " << round << ": the task behind a cancelled one died: " << e.what();
    }
    try {
      EXPECT_EQ(first.get(), 300);
      ++too_late;
      delay_us = std::max(0, delay_us - 40);
    } catch (const CancelledError&) {
      ++cancelled;
      delay_us += 20;
    }
  }
  // The staircase reaches no delay after five late cancels, and a cancel issued right
  // after the submit lands before the task's end unless this thread loses its core for
  // the task's whole 300 us, round after round.
  EXPECT_GT(cancelled, 0) << "no cancel reached its task: the test tested nothing";
  RecordProperty("cancelled", cancelled);
  RecordProperty("too_late", too_late);
}

}  // namespace
}  // namespace concur
