// The event loop: Task, run, sleep, yield_now, spawn and TaskHandle, asyncio-style
// cancellation, call_soon_threadsafe, and awaiting a concur::Future.
#include <concur/loop/event_loop.hpp>

#include <concur/loop/await_future.hpp>
#include <concur/loop/event.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/thread/thread_pool.hpp>

#include "support/latch.hpp"
#include "support/threadsafe_posts.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <memory>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Task<int> forty_two() { co_return 42; }
Task<int> twice() { co_return 2 * co_await forty_two(); }
Task<int> fails() {
  co_await yield_now();
  throw std::domain_error("inside a task");
}
Task<void> nothing() { co_return; }

TEST(EventLoop, RunReturnsTheValueOrRethrows) {
  { EventLoop first; }  // libuv opens a process-wide signal pipe once, on the first loop
  test::NoLeaks no_leaks;  // every loop after it must give back all it took
  EXPECT_EQ(run(twice()), 84);
  EXPECT_THROW(run(fails()), std::domain_error);
  run(nothing());
}

TEST(EventLoop, RunsWhenTheProcessStartedWithStdinClosed) {
  // libuv would take fd 0 for itself and abort when closing it; the loop holds 0-2 with
  // /dev/null first. (Its own process: ctest runs each test case alone.)
  ASSERT_EQ(::close(0), 0);
  EXPECT_EQ(run(twice()), 84);
  EXPECT_NE(::fcntl(0, F_GETFD), -1) << "fd 0 is held by /dev/null";
}

Task<long> depth(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}

TEST(EventLoop, DeepAwaitChainsDoNotGrowTheStack) {
  // 200,000 nested co_awaits: each resumes the next by symmetric transfer. A recursion
  // of normal calls this deep would need far more than the 8 MiB stack.
  EXPECT_EQ(run(depth(200'000)), 200'000);
}

Task<void> sleeper(std::chrono::milliseconds d, std::vector<int>& order, int id, bool& early) {
  const auto start = Clock::now();
  co_await sleep(d);
  if (Clock::now() - start < d) early = true;
  order.push_back(id);
}

Task<std::vector<int>> sleep_many(bool& early) {
  std::vector<int> order;
  std::vector<TaskHandle<void>> handles;
  const int ms[] = {30, 5, 20, 5, 1, 12, 25, 8};
  for (int i = 0; i < 8; ++i) handles.push_back(spawn(sleeper(std::chrono::milliseconds(ms[i]), order, i, early)));
  for (auto& h : handles) co_await h;
  co_return order;
}

TEST(EventLoop, TimersFireInOrderAndNeverEarly) {
  bool early = false;
  EXPECT_EQ(run(sleep_many(early)), (std::vector<int>{4, 1, 3, 7, 5, 2, 6, 0})) << "equal deadlines keep their order";
  EXPECT_FALSE(early);
}

Task<void> ping(std::string& trace, char c) {
  for (int i = 0; i < 3; ++i) {
    trace += c;
    co_await yield_now();
  }
}
// Timers due at the same nanosecond (set directly: sleep's deadlines are read from the
// clock and hardly ever tie) fire in the order they were added, also around removals.
struct FireRecorder {
  std::vector<int> order;
  detail::OwnedTimer* first = nullptr;
  std::size_t expected = 0;
  Event all_fired;
};

Task<std::vector<int>> fire_equal_deadlines() {
  EventLoop& loop = *EventLoop::current();
  FireRecorder recorder;
  std::vector<detail::OwnedTimer> timers(610);
  recorder.first = timers.data();
  const auto due = detail::LoopClock::now() + 3ms;
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].deadline = i < 600 ? due : due - 1ms;  // the last ten are due first
    timers[i].owner = &recorder;
    timers[i].fire = [](detail::LoopTimer& timer) noexcept {
      auto& r = *static_cast<FireRecorder*>(detail::OwnedTimer::owner_of(timer));
      r.order.push_back(static_cast<int>(&static_cast<detail::OwnedTimer&>(timer) - r.first));
      if (r.order.size() == r.expected) r.all_fired.set();
    };
    loop.add_timer(timers[i]);
  }
  loop.remove_timer(timers[100]);
  loop.remove_timer(timers[300]);
  loop.remove_timer(timers[300]);  // twice: no effect
  recorder.expected = timers.size() - 2;
  co_await recorder.all_fired.wait();
  co_return recorder.order;
}

TEST(EventLoop, TimersDueAtTheSameInstantFireInTheOrderAdded) {
  std::vector<int> expected;
  for (int i = 600; i < 610; ++i) expected.push_back(i);
  for (int i = 0; i < 600; ++i) {
    if (i != 100 && i != 300) expected.push_back(i);
  }
  EXPECT_EQ(run(fire_equal_deadlines()), expected);
}

TEST(EventLoop, TimerSequenceNumbersCompareAcrossTheirWrap) {
  EXPECT_TRUE(detail::added_before(5, 6));
  EXPECT_FALSE(detail::added_before(6, 5));
  EXPECT_FALSE(detail::added_before(7, 7));
  EXPECT_TRUE(detail::added_before(0xFFFFFFFFu, 0)) << "the last number before the wrap came first";
  EXPECT_FALSE(detail::added_before(0, 0xFFFFFFFFu));
  EXPECT_TRUE(detail::added_before(0xFFFFFF00u, 0x100u));
}

Task<std::string> alternate() {
  std::string trace;
  auto a = spawn(ping(trace, 'a'));
  auto b = spawn(ping(trace, 'b'));
  co_await a;
  co_await b;
  co_return trace;
}

TEST(EventLoop, YieldLetsTheOtherReadyTasksRun) { EXPECT_EQ(run(alternate()), "ababab"); }

Task<int> nap(int value) {
  co_await sleep(100ms);
  co_return value;
}
Task<int> fan_out() {
  std::vector<TaskHandle<int>> handles;
  for (int i = 0; i < 30; ++i) handles.push_back(spawn(nap(i)));
  int sum = 0;
  for (auto& h : handles) sum += co_await h;
  co_return sum;
}

TEST(EventLoop, ThirtySleepingTasksOverlap) {
  const auto start = Clock::now();
  EXPECT_EQ(run(fan_out()), 435);
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 1500ms) << "30 x 100 ms one after the other would take 3 s";
}

struct Flag {
  bool& set;
  ~Flag() { set = true; }
};

Task<int> sleeps_long(bool& unwound, bool& caught) {
  Flag flag{unwound};
  try {
    co_await sleep(10s);
  } catch (const CancelledError&) {
    caught = true;
    throw;
  }
  co_return 1;
}

Task<void> cancel_a_sleeper(bool& unwound, bool& caught, bool& cancelled) {
  auto h = spawn(sleeps_long(unwound, caught));
  co_await sleep(1ms);
  EXPECT_TRUE(h.cancel());
  try {
    (void)co_await h;
  } catch (const CancelledError&) {
    cancelled = h.cancelled();
  }
  EXPECT_FALSE(h.cancel()) << "it has ended";
}

TEST(EventLoop, CancelRaisesAtTheSuspensionPointAndUnwinds) {
  bool unwound = false, caught = false, cancelled = false;
  const auto start = Clock::now();
  run(cancel_a_sleeper(unwound, caught, cancelled));
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(unwound);
  EXPECT_TRUE(caught);
  EXPECT_TRUE(cancelled);
}

Task<int> shrugs_off_cancel() {
  try {
    co_await sleep(10s);
  } catch (const CancelledError&) {
  }
  co_await sleep(1ms);  // a caught cancellation is consumed: the task goes on
  co_return 7;
}
Task<int> cancel_then_await() {
  auto h = spawn(shrugs_off_cancel());
  co_await yield_now();
  h.cancel();
  co_return co_await h;
}

TEST(EventLoop, ATaskMayCatchCancelledErrorAndGoOn) { EXPECT_EQ(run(cancel_then_await()), 7); }

Task<void> cancelled_before_it_starts(bool& reached) {
  reached = true;  // runs until its first suspension point
  co_await sleep(10s);
}
Task<bool> cancel_before_start(bool& reached) {
  auto h = spawn(cancelled_before_it_starts(reached));
  h.cancel();
  try {
    co_await h;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

TEST(EventLoop, ACancelBeforeTheFirstSuspensionIsDeliveredThere) {
  bool reached = false;
  EXPECT_TRUE(run(cancel_before_start(reached)));
  EXPECT_TRUE(reached);
}

Task<void> joiner(TaskHandle<int> inner) { (void)co_await inner; }
Task<bool> cancel_the_joiner(bool& unwound, bool& caught) {
  auto inner = spawn(sleeps_long(unwound, caught));
  auto outer = spawn(joiner(inner));
  co_await sleep(1ms);
  outer.cancel();
  try {
    co_await outer;
  } catch (const CancelledError&) {
  }
  co_return inner.cancelled();
}

TEST(EventLoop, CancellingAJoinerCancelsTheTaskItAwaits) {
  bool unwound = false, caught = false;
  EXPECT_TRUE(run(cancel_the_joiner(unwound, caught))) << "asyncio: cancelling `await task` cancels task";
  EXPECT_TRUE(unwound);
}

Task<int> leaves_tasks_behind(bool& unwound, bool& caught) {
  (void)spawn(sleeps_long(unwound, caught));
  co_await yield_now();
  co_return 5;
}

TEST(EventLoop, RunCancelsTheTasksLeftAndLeavesNothingPending) {
  bool unwound = false, caught = false;
  const auto start = Clock::now();
  {
    EventLoop loop;
    EXPECT_EQ(loop.run_until_complete(leaves_tasks_behind(unwound, caught)), 5);
    EXPECT_EQ(loop.pending(), 0u);
  }
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(caught) << "the task left behind was cancelled, as asyncio.run does";
  EXPECT_TRUE(unwound);
}

Task<void> keep_handles(std::vector<TaskHandle<int>>& kept) {
  kept.push_back(spawn(forty_two()));                 // ends before the loop does
  kept.push_back(spawn([]() -> Task<int> {           // left running: the loop's end cancels it
    co_await sleep(10s);
    co_return 0;
  }()));
  co_await yield_now();
}

TEST(EventLoop, HandlesMayOutliveTheirLoop) {
  // A task's state lives until its last handle goes, which may be after the loop (the
  // sanitizer builds check that nothing is touched after it).
  std::vector<TaskHandle<int>> kept;
  run(keep_handles(kept));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].result(), 42);
  EXPECT_TRUE(kept[1].cancelled());
  TaskHandle<int> copy = kept[0];
  kept.clear();
  EXPECT_EQ(copy.result(), 42) << "a copy keeps the state";
}

Task<void> interrupted_by_sigint(bool& caught) {
  std::raise(SIGINT);  // Ctrl-C
  try {
    co_await sleep(10s);
  } catch (const CancelledError&) {
    caught = true;
    throw;
  }
}

TEST(EventLoop, SigintCancelsTheMainTask) {
  bool caught = false;
  EXPECT_THROW(run(interrupted_by_sigint(caught)), CancelledError);
  EXPECT_TRUE(caught);
}

TEST(EventLoop, MisuseIsRefused) {
  EXPECT_THROW((void)spawn(nothing()), InvalidState) << "no loop on this thread";
  EventLoop loop;
  EXPECT_THROW(EventLoop(), InvalidState) << "one loop per thread";
  EXPECT_EQ(EventLoop::current(), &loop);
}

// ---- other threads --------------------------------------------------------------------
// A callable too big or not trivially copyable for a LoopCallback's in-place storage;
// counts the live ones, so a test sees each freed exactly once.
struct Counted {
  static inline int live = 0;
  std::vector<int>* out;
  int value;
  std::string padding = std::string(40, 'p');  // heap-held: not trivially copyable
  Counted(std::vector<int>* o, int v) : out(o), value(v) { ++live; }
  Counted(const Counted& other) : out(other.out), value(other.value), padding(other.padding) { ++live; }
  ~Counted() { --live; }
  void operator()() const { out->push_back(value); }
};

Task<std::vector<int>> call_soon_in_order() {
  EventLoop& loop = *EventLoop::current();
  std::vector<int> order;
  auto* out = &order;
  loop.call_soon([out] { out->push_back(1); });                    // in place
  loop.call_soon(Counted(out, 2));                                   // on the heap
  loop.call_soon([out, big = std::array<int, 8>{3}] { out->push_back(big[0]); });  // too big
  loop.call_soon([out, owned = std::make_unique<int>(4)] { out->push_back(*owned); });  // move-only
  EXPECT_TRUE(order.empty()) << "call_soon runs on a later turn, never at once";
  co_await yield_now();
  co_return order;
}

TEST(EventLoop, CallSoonRunsEachCallableOnceInOrderOnALaterTurn) {
  EXPECT_EQ(run(call_soon_in_order()), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(Counted::live, 0);
}

Task<void> a_callback_throws(std::vector<int>& order) {
  EventLoop& loop = *EventLoop::current();
  auto* out = &order;
  loop.call_soon([out] { out->push_back(1); });
  loop.call_soon([] { throw std::runtime_error("from a callback"); });
  loop.call_soon(Counted(out, 3));  // queued behind the failure: still runs, as the loop winds down
  co_await sleep(1h);               // the loop stops on the exception first
}

TEST(EventLoop, ACallbackExceptionEndsRunAndTheCallablesBehindItStillRunOnce) {
  std::vector<int> order;
  EXPECT_THROW(run(a_callback_throws(order)), std::runtime_error);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_EQ(Counted::live, 0);
}

TEST(EventLoop, CallSoonThreadsafeFromEightThreadsLosesNothing) {
  const int calls = static_cast<int>(test::scaled(10'000));
  EXPECT_EQ(run(test::count_threadsafe_posts(8, calls)), 8L * calls);
}

TEST(EventLoop, ACallAfterTheLoopClosedIsDropped) {
  std::weak_ptr<detail::LoopInbox> inbox;
  {
    EventLoop loop;
    inbox = loop.inbox();
  }
  EXPECT_FALSE(detail::post_to_inbox(inbox, [] { FAIL() << "ran after the loop closed"; }));
}

int slow_square(int x, test::Latch* gate) {
  gate->wait();
  return x * x;
}

Task<int> await_a_thread_pool(ThreadPool& pool, test::Latch& gate, int& ticks) {
  auto ticker = spawn([](int& n) -> Task<void> {
    for (;;) {
      ++n;
      co_await sleep(1ms);
    }
  }(ticks));
  auto future = pool.submit(slow_square, 9, &gate);
  while (ticks < 5) co_await sleep(1ms);  // the loop runs while the pool works
  gate.count_down();
  const int value = co_await std::move(future);
  ticker.cancel();
  co_return value;
}

TEST(EventLoop, AwaitingAFutureDoesNotBlockTheLoop) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  ThreadPool pool(1);
  test::Latch gate(1);
  int ticks = 0;
  EXPECT_EQ(run(await_a_thread_pool(pool, gate, ticks)), 81);
  EXPECT_GE(ticks, 5);
}

Task<bool> cancel_while_awaiting_a_future(ThreadPool& pool, test::Latch& gate, Future<int>& queued) {
  auto blocker = pool.submit(slow_square, 1, &gate);  // occupies the only worker
  queued = pool.submit(slow_square, 2, &gate);
  auto waiter = spawn([](Future<int> f) -> Task<int> { co_return co_await std::move(f); }(queued));
  co_await sleep(1ms);
  waiter.cancel();
  try {
    (void)co_await waiter;
  } catch (const CancelledError&) {
    gate.count_down();
    co_return true;
  }
  gate.count_down();
  co_return false;
}

TEST(EventLoop, CancellingATaskThatAwaitsAFutureCancelsTheFuture) {
  ThreadPool pool(1);
  test::Latch gate(1);
  Future<int> queued;
  EXPECT_TRUE(run(cancel_while_awaiting_a_future(pool, gate, queued)));
  EXPECT_TRUE(queued.cancelled()) << "the queued task never runs";
}

}  // namespace
}  // namespace concur
