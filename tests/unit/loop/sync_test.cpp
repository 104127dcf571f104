// Event, Lock, Semaphore and Queue for tasks: wake-ups, FIFO fairness, backpressure,
// close, and cancellation of waiters.
#include <concur/loop/event.hpp>
#include <concur/loop/lock.hpp>
#include <concur/loop/queue.hpp>

#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

Task<void> wait_then_record(Event& e, std::vector<int>& woken, int id) {
  co_await e.wait();
  woken.push_back(id);
}
Task<std::vector<int>> event_wakes_all() {
  Event e;
  std::vector<int> woken;
  std::vector<TaskHandle<void>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(spawn(wait_then_record(e, woken, i)));
  co_await sleep(1ms);
  EXPECT_TRUE(woken.empty());
  e.set();
  for (auto& h : hs) co_await h;
  co_await e.wait();  // set: returns at once
  e.clear();
  EXPECT_FALSE(e.is_set());
  co_return woken;
}

TEST(LoopSync, EventWakesEveryWaiterInOrder) {
  EXPECT_EQ(run(event_wakes_all()), (std::vector<int>{0, 1, 2, 3, 4}));
}

Task<void> hold(Lock& lock, std::vector<int>& order, int id) {
  auto held = co_await lock.scoped();
  order.push_back(id);
  co_await sleep(1ms);
}
Task<std::vector<int>> lock_is_fifo() {
  Lock lock;
  std::vector<int> order;
  std::vector<TaskHandle<void>> hs;
  for (int i = 0; i < 6; ++i) hs.push_back(spawn(hold(lock, order, i)));
  for (auto& h : hs) co_await h;
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), InvalidState);
  co_return order;
}

TEST(LoopSync, LockIsFifoFairAndReleasedByItsGuard) {
  EXPECT_EQ(run(lock_is_fifo()), (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

Task<void> inside(Semaphore& s, int& now, int& peak) {
  auto permit = co_await s.scoped();
  peak = std::max(peak, ++now);
  co_await sleep(2ms);
  --now;
}
Task<int> semaphore_bounds() {
  Semaphore s(3);
  int now = 0, peak = 0;
  std::vector<TaskHandle<void>> hs;
  for (int i = 0; i < 20; ++i) hs.push_back(spawn(inside(s, now, peak)));
  for (auto& h : hs) co_await h;
  EXPECT_EQ(s.available(), 3);
  co_return peak;
}

TEST(LoopSync, SemaphoreAdmitsAtMostItsPermits) {
  EXPECT_EQ(run(semaphore_bounds()), 3);
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
}

Task<void> waits_for_lock(Lock& lock) { co_await lock.acquire(); }
Task<bool> cancelled_waiter_loses_nothing() {
  Lock lock;
  co_await lock.acquire();
  auto waiter = spawn(waits_for_lock(lock));
  co_await sleep(1ms);
  waiter.cancel();
  try {
    co_await waiter;
  } catch (const CancelledError&) {
  }
  lock.release();
  co_return !lock.locked() && lock.try_acquire();  // the permit was not handed to the cancelled waiter
}

TEST(LoopSync, ACancelledWaiterLeavesTheQueueAndLosesNoPermit) {
  EXPECT_TRUE(run(cancelled_waiter_loses_nothing()));
}

Task<void> produce(Queue<int>& q, int n, std::vector<std::string>& trace) {
  for (int i = 0; i < n; ++i) {
    co_await q.put(i);
    trace.push_back("put" + std::to_string(i));
  }
  q.close();
}
Task<std::vector<int>> consume(Queue<int>& q, std::vector<std::string>& trace) {
  std::vector<int> got;
  for (;;) {
    try {
      got.push_back(co_await q.get());
      trace.push_back("get");
      co_await sleep(1ms);  // a slow consumer
    } catch (const QueueShutDown&) {
      co_return got;
    }
  }
}
Task<std::vector<int>> bounded_queue(std::vector<std::string>& trace, std::size_t& max_size) {
  Queue<int> q(2);
  auto producer = spawn(produce(q, 10, trace));
  auto consumer = spawn(consume(q, trace));
  while (!producer.done()) {
    max_size = std::max(max_size, q.size());
    co_await yield_now();
  }
  co_return co_await consumer;
}

TEST(LoopSync, ABoundedQueueAppliesBackpressureAndCloseDrainsThenStops) {
  std::vector<std::string> trace;
  std::size_t max_size = 0;
  std::vector<int> expected(10);
  for (int i = 0; i < 10; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(run(bounded_queue(trace, max_size)), expected);
  EXPECT_LE(max_size, 2u) << "put suspends while full";
  EXPECT_EQ(trace.size(), 20u);
}

Task<void> blocked_put(Queue<int>& q) { co_await q.put(3); }
Task<int> close_wakes_waiters() {
  Queue<int> full(1);
  co_await full.put(1);
  auto putter = spawn(blocked_put(full));
  Queue<int> empty;
  auto getter = spawn([](Queue<int>& q) -> Task<int> { co_return co_await q.get(); }(empty));
  co_await sleep(1ms);
  full.close();
  empty.close();
  int shutdowns = 0;
  try {
    co_await putter;
  } catch (const QueueShutDown&) {
    ++shutdowns;
  }
  try {
    (void)co_await getter;
  } catch (const QueueShutDown&) {
    ++shutdowns;
  }
  EXPECT_EQ(co_await full.get(), 1) << "what was queued is still delivered";
  EXPECT_THROW(full.try_put(2), QueueShutDown);
  co_return shutdowns;
}

TEST(LoopSync, CloseWakesEveryWaitingPutAndGet) { EXPECT_EQ(run(close_wakes_waiters()), 2); }

Task<bool> try_variants() {
  Queue<std::string> q(1);
  EXPECT_TRUE(q.try_put("a"));
  EXPECT_FALSE(q.try_put("b")) << "full";
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.try_get(), std::nullopt);
  co_return true;
}

TEST(LoopSync, TryPutAndTryGetNeverSuspend) { EXPECT_TRUE(run(try_variants())); }

}  // namespace
}  // namespace concur
