// spawn and TaskHandle: a spawned task is one allocation (its own coroutine frame holds
// its state), the frame goes when the task has ended and no handle refers to it, and
// the tasks awaiting a handle resume in the order they began to wait.
#include <concur/loop/spawn.hpp>

#include <concur/loop/event.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/shield.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/task_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// Counts this binary's allocations (for the one-allocation test). The sanitizers bring
// their own operator new, so their builds skip that test.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONCUR_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONCUR_TEST_SANITIZED 1
#endif
#endif

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

#ifndef CONCUR_TEST_SANITIZED
// g++ sees the free() below inlined where a `new` allocated and warns; the pair matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace concur {
namespace {

using namespace std::chrono_literals;

Task<void> sleeper() { co_await sleep(10ms); }

Task<std::size_t> allocations_per_spawn(std::size_t n) {
  std::vector<TaskHandle<void>> handles;
  handles.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) handles.push_back(spawn(sleeper()));  // warms the loop's queues
  co_await yield_now();
  const std::size_t before = allocations.load();
  for (std::size_t i = 0; i < n; ++i) handles.push_back(spawn(sleeper()));
  const std::size_t used = allocations.load() - before;
  for (auto& h : handles) co_await h;
  co_return used;
}

TEST(Spawn, ASpawnedTaskIsOneAllocation) {
#ifdef CONCUR_TEST_SANITIZED
  GTEST_SKIP() << "the sanitizer's operator new cannot be replaced";
#endif
  constexpr std::size_t kTasks = 1000;
  const std::size_t used = run(allocations_per_spawn(kTasks));
  // One frame each, plus the ready queue's occasional growth.
  EXPECT_GE(used, kTasks);
  EXPECT_LE(used, kTasks + 16) << "spawn allocates more than the task's own frame";
}

// frame_of finds a coroutine's frame from its promise with the type erased, as spawned
// tasks do instead of storing their handle.
struct alignas(16) Wide {
  double a, b;
};
Task<void> void_task() { co_return; }
Task<int> int_task() { co_return 1; }
Task<std::string> string_task() { co_return "s"; }
Task<Wide> wide_task() { co_return Wide{1, 2}; }

template <class T>
void expect_frame_of_finds_the_frame(Task<T> task) {
  const std::coroutine_handle<detail::Promise<T>> handle = task.release();
  detail::PromiseBase& base = handle.promise();
  EXPECT_EQ(detail::frame_of(base).address(), handle.address());
  EXPECT_EQ(static_cast<void*>(&base), static_cast<void*>(&handle.promise())) << "PromiseBase is not first";
  handle.destroy();
}

TEST(Spawn, FrameOfFindsTheFrameOfAnyPromise) {
  expect_frame_of_finds_the_frame(void_task());
  expect_frame_of_finds_the_frame(int_task());
  expect_frame_of_finds_the_frame(string_task());
  expect_frame_of_finds_the_frame(wide_task());
}

// What a sleeping spawned task's frame holds besides the user's locals, and the heap
// entry of its timer: these sizes make a million sleeping tasks cost under 200 bytes
// each (bench/loop; docs/design.md has the breakdown).
TEST(Spawn, TheStateOfASleepingTaskStaysSmall) {
  EXPECT_LE(sizeof(detail::Promise<void>), 64u);
  EXPECT_LE(sizeof(detail::SleepAwaiter), 40u);
  EXPECT_LE(sizeof(detail::LoopTimer), 24u);
  EXPECT_LE(sizeof(detail::TimerEntry), 16u);
  EXPECT_LE(sizeof(TaskHandle<void>), sizeof(void*));
}

Task<void> empty_tasks_are_refused() {
  EXPECT_THROW((void)spawn(Task<int>()), InvalidState);
  Task<void> task = sleeper();
  Task<void> taken = std::move(task);
  EXPECT_THROW((void)spawn(std::move(task)), InvalidState) << "a moved-from Task";
  co_await std::move(taken);
}

TEST(Spawn, AnEmptyTaskIsRefused) { run(empty_tasks_are_refused()); }

// Counts its live copies; as a coroutine's parameter it lives exactly as long as the frame.
struct FrameProbe {
  explicit FrameProbe(int& live) : live_(&live) { ++*live_; }
  FrameProbe(const FrameProbe& other) : live_(other.live_) { ++*live_; }
  FrameProbe& operator=(const FrameProbe&) = delete;
  ~FrameProbe() { --*live_; }
  int* live_;
};

Task<int> holds_probe(FrameProbe, Event& go) {
  co_await go.wait();
  co_return 7;
}

Task<void> frames_go_with_the_last_reference(int& live) {
  Event go;
  (void)spawn(holds_probe(FrameProbe(live), go));  // nobody keeps a handle
  TaskHandle<int> kept = spawn(holds_probe(FrameProbe(live), go));
  co_await yield_now();
  EXPECT_EQ(live, 2) << "both frames live while their tasks run";
  go.set();
  co_await yield_now();  // after both tasks, which go.set() made ready
  EXPECT_TRUE(kept.done());
  EXPECT_EQ(live, 1) << "the unreferenced task's frame went when it ended";
  {
    TaskHandle<int> copy = kept;
    kept = TaskHandle<int>();
    EXPECT_EQ(live, 1) << "a copy keeps the frame";
    EXPECT_EQ(copy.result(), 7);
  }
  EXPECT_EQ(live, 0) << "the last handle took the frame with it";
}

TEST(Spawn, AFrameGoesWhenTheTaskHasEndedAndNoHandleIsLeft) {
  int live = 0;
  run(frames_go_with_the_last_reference(live));
  EXPECT_EQ(live, 0);
}

Task<int> waits_for(Event& go) {
  co_await go.wait();
  co_return 1;
}

Task<void> joins(int index, TaskHandle<int> target, std::vector<int>& order) {
  try {
    (void)co_await shield(target);  // shield: a cancelled joiner leaves the target alone
    order.push_back(index);
  } catch (const CancelledError&) {
    order.push_back(-index);
  }
}

Task<void> joiners_in_order(std::vector<int>& order) {
  Event go;
  TaskHandle<int> target = spawn(waits_for(go));
  std::vector<TaskHandle<void>> joiners;
  for (int i = 1; i <= 5; ++i) joiners.push_back(spawn(joins(i, target, order)));
  co_await yield_now();  // every joiner waits now, in the order 1..5
  joiners[2].cancel();   // the third leaves the middle of the target's waiters
  co_await yield_now();
  go.set();
  for (auto& j : joiners) co_await j;
  EXPECT_EQ(target.result(), 1);
}

TEST(Spawn, JoinersResumeInTheOrderTheyBeganToWait) {
  std::vector<int> order;
  run(joiners_in_order(order));
  EXPECT_EQ(order, (std::vector<int>{-3, 1, 2, 4, 5}));
}

Task<int> fails_after(Event& go) {
  co_await go.wait();
  throw std::runtime_error("child failed");
}

Task<void> group_watch_precedes_awaiters(bool& sibling_cancelled_first) {
  Event go;
  TaskGroup group;
  auto child = group.spawn(fails_after(go));
  auto sibling = group.spawn(sleeper());
  // An outside awaiter of the failing child: when it resumes, the group's watch has
  // already cancelled the sibling.
  auto outside = spawn([](TaskHandle<int> c, TaskHandle<void> s, bool& seen) -> Task<void> {
    try {
      (void)co_await c;
    } catch (const std::runtime_error&) {
      seen = s.done() || s.context().cancel_pending || s.context().waiting_on == nullptr;
    }
  }(child, sibling, sibling_cancelled_first));
  co_await yield_now();
  go.set();
  EXPECT_THROW(co_await group.join(), ExceptionGroup);
  co_await outside;
  EXPECT_TRUE(sibling.cancelled());
}

TEST(Spawn, ATaskGroupHearsOfAFailureBeforeTheChildsAwaiters) {
  bool sibling_cancelled_first = false;
  run(group_watch_precedes_awaiters(sibling_cancelled_first));
  EXPECT_TRUE(sibling_cancelled_first);
}

}  // namespace
}  // namespace concur
