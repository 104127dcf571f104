// CallbackQueue: order across blocks, batches (what a batch queues waits), a throwing
// callback (the rest stay first in line), and dropping what never ran.
#include <concur/loop/detail/callback_queue.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace concur::detail {
namespace {

TEST(CallbackQueue, RunsABurstAcrossManyBlocksInOrder) {
  CallbackQueue queue;
  std::vector<int> order;
  auto* out = &order;
  for (int i = 0; i < 5000; ++i) queue.emplace_back([out, i] { out->push_back(i); });
  EXPECT_EQ(queue.size(), 5000u);
  queue.run_batch();
  EXPECT_TRUE(queue.empty());
  ASSERT_EQ(order.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
  order.clear();
  for (int round = 0; round < 3; ++round) {  // blocks kept from the burst are reused
    for (int i = 0; i < 700; ++i) queue.emplace_back([out, i] { out->push_back(i); });
    queue.run_batch();
  }
  EXPECT_EQ(order.size(), 2100u);
}

TEST(CallbackQueue, WhatABatchQueuesWaitsForTheNextBatch) {
  CallbackQueue queue;
  std::vector<int> order;
  auto* out = &order;
  auto* q = &queue;
  for (int i = 0; i < 600; ++i) {
    queue.emplace_back([out, q, i] {
      out->push_back(i);
      q->emplace_back([out, i] { out->push_back(1000 + i); });
    });
  }
  queue.run_batch();
  EXPECT_EQ(order.size(), 600u);
  EXPECT_EQ(queue.size(), 600u);
  queue.run_batch();
  ASSERT_EQ(order.size(), 1200u);
  EXPECT_EQ(order[600], 1000);
  EXPECT_EQ(order[1199], 1599);
}

TEST(CallbackQueue, AThrowingCallbackLeavesTheRestFirstInLine) {
  CallbackQueue queue;
  std::vector<int> order;
  auto* out = &order;
  auto* q = &queue;
  for (int i = 0; i < 1500; ++i) {
    if (i == 700) {
      queue.emplace_back([q, out] {
        q->emplace_back([out] { out->push_back(-1); });  // queued during the batch
        throw std::runtime_error("callback 700");
      });
    } else {
      queue.emplace_back([out, i] { out->push_back(i); });
    }
  }
  EXPECT_THROW(queue.run_batch(), std::runtime_error);
  EXPECT_EQ(order.size(), 700u);
  EXPECT_EQ(queue.size(), 800u);  // 701..1499, then the one queued during the batch
  queue.run_batch();
  ASSERT_EQ(order.size(), 1500u);
  EXPECT_EQ(order[700], 701);
  EXPECT_EQ(order[1498], 1499);
  EXPECT_EQ(order[1499], -1);
}

TEST(CallbackQueue, CallbacksThatNeverRanAreFreedWithTheQueue) {
  auto alive = std::make_shared<int>(0);
  {
    CallbackQueue queue;
    for (int i = 0; i < 1000; ++i) queue.emplace_back([alive] {});  // heap-held: not trivially copyable
    EXPECT_EQ(alive.use_count(), 1001);
  }
  EXPECT_EQ(alive.use_count(), 1);
}

}  // namespace
}  // namespace concur::detail
