#include <concur/thread/blocking_queue.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace concur {
namespace {

class BlockingQueueStress : public testing::TestWithParam<std::size_t> {};

TEST_P(BlockingQueueStress, ProducersAndConsumersLoseNothing) {
  const std::size_t threads = GetParam();
  const std::size_t per_producer = test::scaled(50'000);
  BlockingQueue<std::size_t> q(16);  // small: producers block often
  std::atomic<std::size_t> sum{0}, count{0};
  std::vector<std::thread> consumers, producers;
  for (std::size_t c = 0; c < threads; ++c) {
    consumers.emplace_back([&] {
      try {
        for (;;) {
          sum += q.get();
          ++count;
        }
      } catch (const QueueShutDown&) {
      }
    });
  }
  for (std::size_t p = 0; p < threads; ++p) {
    producers.emplace_back([&] {
      for (std::size_t i = 1; i <= per_producer; ++i) q.put(i);
    });
  }
  for (auto& t : producers) t.join();
  q.close();  // consumers drain what is left, then stop
  for (auto& t : consumers) t.join();
  EXPECT_EQ(count.load(), threads * per_producer);
  EXPECT_EQ(sum.load(), threads * per_producer * (per_producer + 1) / 2);
}

INSTANTIATE_TEST_SUITE_P(Threads, BlockingQueueStress, testing::Values(1, 2, 4, 8));

}  // namespace
}  // namespace concur
