// BlockQueue (the loop's CallbackQueue and HandleQueue): order across blocks, batches
// (what a batch queues waits), a throwing callback (the rest stay first in line),
// dropping what never ran, and a burst's blocks going as the batch runs.
#include <concur/loop/detail/block_queue.hpp>

#include <concur/loop/task.hpp>

#include <gtest/gtest.h>

#include <cstdint>

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

// Records each entry it runs, and what the queue holds when the last one runs.
struct Probe {
  std::vector<int> seen;
  const BlockQueue<int, struct RecordInt>* queue = nullptr;
  std::size_t held_at_last = 0;
  int last = -1;
};
Probe probe;
struct RecordInt {
  void operator()(int& value) const {
    probe.seen.push_back(value);
    if (value == probe.last) probe.held_at_last = probe.queue->bytes_held();
  }
};

TEST(BlockQueue, ABurstsBlocksGoAsTheBatchRunsThem) {
  constexpr int kBurst = 1'000'000;  // 4 MB: 2 MiB of small blocks, then huge ones
  probe = Probe{};
  probe.seen.reserve(kBurst);
  probe.last = kBurst - 1;
  {
    BlockQueue<int, RecordInt> queue;
    probe.queue = &queue;
    for (int i = 0; i < kBurst; ++i) queue.emplace_back(i);
    EXPECT_GE(queue.bytes_held(), std::size_t{kBurst} * sizeof(int));
    EXPECT_LE(queue.bytes_held(), std::size_t{kBurst} * sizeof(int) + 2 * kHugeBlockBytes);
    queue.run_batch();
    EXPECT_TRUE(queue.empty());
    ASSERT_EQ(probe.seen.size(), std::size_t{kBurst});
    for (int i = 0; i < kBurst; ++i) ASSERT_EQ(probe.seen[static_cast<std::size_t>(i)], i);
    // While the last entry ran, only its own block and the two kept spares were left.
    EXPECT_LE(probe.held_at_last, kHugeBlockBytes + 3 * (12 * 1024 + 64)) << "consumed blocks were kept";
    EXPECT_LE(queue.bytes_held(), 2 * (12 * 1024 + 64)) << "more than two spares kept";
    for (int round = 0; round < 3; ++round) {  // a second burst after the first
      for (int i = 0; i < kBurst; ++i) queue.emplace_back(i);
      queue.run_batch();
    }
    EXPECT_EQ(probe.seen.size(), 4u * kBurst);
  }
}

TEST(BlockQueue, HugeBlocksAreAlignedToTheirSize) {
  void* block = map_huge_block();
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % kHugeBlockBytes, 0u);
  static_cast<unsigned char*>(block)[kHugeBlockBytes - 1] = 1;  // all of it is usable
  unmap_huge_block(block);
}

Task<void> appends(std::vector<int>& order, int value) {
  order.push_back(value);
  co_return;
}

TEST(HandleQueue, ResumesCoroutinesInTheOrderQueued) {
  std::vector<int> order;
  std::vector<std::coroutine_handle<>> frames;  // each ends at its final suspend, kept
  HandleQueue queue;
  for (int i = 0; i < 3000; ++i) {
    frames.push_back(appends(order, i).release());
    queue.emplace_back(frames.back());
  }
  queue.run_batch();
  for (const std::coroutine_handle<> frame : frames) {
    EXPECT_TRUE(frame.done());
    frame.destroy();
  }
  ASSERT_EQ(order.size(), 3000u);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
}

}  // namespace
}  // namespace concur::detail
