#include <concur/thread/blocking_queue.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include "support/latch.hpp"
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

TEST(BlockingQueue, FifoOrder) {
  BlockingQueue<int> q;
  for (int i = 0; i < 5; ++i) q.put(i);
  EXPECT_EQ(q.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.get(), i);
  EXPECT_TRUE(q.empty());
}

TEST(BlockingQueue, ZeroCapacityIsUnbounded) {
  BlockingQueue<int> q(0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(q.try_put(i));
  EXPECT_FALSE(q.full());
}

TEST(BlockingQueue, FullQueueRefusesAndKeepsTheValue) {
  BlockingQueue<std::unique_ptr<int>> q(1);
  q.put(std::make_unique<int>(1));
  EXPECT_TRUE(q.full());
  auto value = std::make_unique<int>(2);
  EXPECT_FALSE(q.try_put(std::move(value)));
  ASSERT_NE(value, nullptr) << "a refused put leaves the argument untouched";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(q.put_for(std::move(value), 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  ASSERT_NE(value, nullptr);
}

TEST(BlockingQueue, EmptyQueueTimesOut) {
  BlockingQueue<int> q;
  EXPECT_EQ(q.try_get(), std::nullopt);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(q.get_for(20ms), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(q.get_until(std::chrono::system_clock::now() + 1ms), std::nullopt);
}

TEST(BlockingQueue, PutBlocksUntilSpaceAppears) {
  BlockingQueue<int> q(1);
  q.put(1);
  std::thread producer([&] { q.put(2); });  // blocks until the get below
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(), 2);
  producer.join();
}

TEST(BlockingQueue, CloseWakesBlockedGetters) {
  BlockingQueue<int> q;
  test::Latch ready(2);
  std::vector<std::thread> getters;
  std::atomic<int> shut{0};
  for (int i = 0; i < 2; ++i) {
    getters.emplace_back([&] {
      ready.count_down();
      try {
        (void)q.get();
      } catch (const QueueShutDown&) {
        ++shut;
      }
    });
  }
  ready.wait();
  q.close();
  for (auto& t : getters) t.join();
  EXPECT_EQ(shut.load(), 2);
}

TEST(BlockingQueue, CloseWakesBlockedPutters) {
  BlockingQueue<int> q(1);
  q.put(0);
  std::thread putter([&] { EXPECT_THROW(q.put(1), QueueShutDown); });
  q.close();
  putter.join();
}

TEST(BlockingQueue, ClosedQueueDrainsThenRaises) {
  BlockingQueue<std::string> q;
  q.put("a");
  q.put("b");
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_THROW(q.put("c"), QueueShutDown);
  EXPECT_THROW((void)q.try_put(std::string("c")), QueueShutDown);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.try_get(), "b");
  EXPECT_THROW((void)q.get(), QueueShutDown);
  EXPECT_THROW((void)q.try_get(), QueueShutDown);
  EXPECT_THROW((void)q.get_for(1ms), QueueShutDown);
  q.close();  // idempotent
}

TEST(BlockingQueue, JoinWaitsForTaskDone) {
  BlockingQueue<int> q;
  for (int i = 0; i < 3; ++i) q.put(i);
  std::thread worker([&] {
    for (int i = 0; i < 3; ++i) {
      (void)q.get();
      q.task_done();
    }
  });
  q.join();
  EXPECT_TRUE(q.empty());
  worker.join();
  EXPECT_THROW(q.task_done(), std::logic_error) << "more task_done() than items";
}

}  // namespace
}  // namespace concur
