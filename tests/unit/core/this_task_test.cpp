#include <concur/core/this_task.hpp>

#include <concur/thread/thread_pool.hpp>

#include "support/latch.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace concur {
namespace {

TEST(ThisTask, NoStopRequestOutsideTasks) { EXPECT_FALSE(this_task::stop_requested()); }

TEST(ThisTask, NoStopRequestForARunningTaskThatNobodyCancelled) {
  ThreadPool pool(1);
  EXPECT_FALSE(pool.submit([] { return this_task::stop_requested(); }).get());
}

TEST(ThisTask, CancellingARunningTaskRequestsStop) {
  test::Latch started(1);
  ThreadPool pool(1);
  EXPECT_FALSE(this_task::stop_requested()) << "false outside tasks";
  auto f = pool.submit([&] {
    started.count_down();
    while (!this_task::stop_requested()) std::this_thread::yield();
    return 7;
  });
  started.wait();
  EXPECT_FALSE(f.cancel()) << "a running task cannot be cancelled";
  EXPECT_EQ(f.get(), 7);
  EXPECT_FALSE(f.cancelled());
}

TEST(ThisTask, NestedInlineRunsSeeTheirOwnTask) {
  ThreadPool pool(1);
  test::Latch started(1);
  auto outer = pool.submit([&] {
    started.count_down();
    while (!this_task::stop_requested()) std::this_thread::yield();
    // The inner task runs inline on this thread; its own future was not cancelled.
    const bool inner_sees_stop = pool.submit([] { return this_task::stop_requested(); }).get();
    return !inner_sees_stop && this_task::stop_requested();  // ours is back afterwards
  });
  started.wait();
  outer.cancel();
  EXPECT_TRUE(outer.get());
}

}  // namespace
}  // namespace concur
