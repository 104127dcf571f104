// ProcessPool under load, looped: submits racing shutdown, and workers killed from
// outside while tasks stream through. Loop counts scale with CONCUR_STRESS_SCALE.
#include <concur/process/process_pool.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>
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

TEST(ProcessPoolStress, KilledWorkersCostOnlyTheTasksTheyRan) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2);
  std::vector<Future<int>> futures;
  const int n = static_cast<int>(test::scaled(20000));
  for (int i = 0; i < n; ++i) {
    futures.push_back(pool.submit(twice, i));
    if (i % 2000 == 1000) {
      for (int pid : pool.worker_pids()) {
        if (pid > 0) ::kill(pid, SIGKILL);
      }
    }
  }
  int died = 0;
  for (int i = 0; i < n; ++i) {
    try {
      EXPECT_EQ(futures[i].get(), 2 * i);
    } catch (const WorkerDied& e) {
      EXPECT_EQ(e.signal(), SIGKILL);
      ++died;
    }
  }
  EXPECT_LE(died, 2 * (n / 2000 + 1)) << "at most the running task of each killed worker";
}

}  // namespace
}  // namespace concur
