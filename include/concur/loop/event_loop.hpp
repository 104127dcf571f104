// EventLoop: the reactor that runs Tasks on one thread (Python: asyncio's event loop, on
// libuv like uvloop).
//
// Most programs never name it: concur::run(task) makes a loop on the calling thread,
// runs the task to its end and closes the loop. What the loop does each turn: resume the
// coroutines made ready since the last turn (in the order they became ready), fire the
// timers that are due (in deadline order, never early), then wait in libuv for I/O, the
// next timer or a call from another thread.
//
// Lifetime: one loop per thread at a time, current while it runs. At the end of
// run_until_complete the tasks still alive are cancelled and run to their end (as
// asyncio.run does), so destroying the loop leaves nothing pending.
// Thread safety: everything is loop-thread only, except call_soon_threadsafe (any
// thread, also after the loop closed: the call is then dropped and false returned).
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/loop/detail/block_queue.hpp>
#include <concur/loop/task.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

namespace concur {
inline namespace v0 {

namespace detail {

using LoopClock = std::chrono::steady_clock;

// A one-shot timer entry owned by an awaiter (a sleeping task's frame holds one, so it is
// kept small: 24 bytes); the loop keeps a heap of pointers to them. `fire` finds its
// owner by a cast (the owner derives from LoopTimer) or through OwnedTimer.
struct LoopTimer {
  static constexpr std::uint32_t kNotInHeap = ~std::uint32_t{0};
  LoopClock::time_point deadline;
  void (*fire)(LoopTimer&) noexcept = nullptr;
  std::uint32_t heap_index = kNotInHeap;
  std::uint32_t sequence = 0;  // set by add_timer: equal deadlines fire in this order
};

// Whether timer sequence number a was handed out before b. The numbers wrap at 2^32 and
// compare modulo 2^32: exact while the two were added fewer than 2^31 timers apart
// (only timers due at the same nanosecond are ever compared so).
constexpr bool added_before(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) < 0; }

// A timer that points to its owner.
struct OwnedTimer : LoopTimer {
  void* owner = nullptr;
  static void* owner_of(LoopTimer& timer) noexcept { return static_cast<OwnedTimer&>(timer).owner; }
};

// An entry of the loop's timer heap: the deadline is copied in, so that sifting compares
// without touching the timers themselves (but for equal deadlines).
struct TimerEntry {
  LoopClock::time_point deadline;
  LoopTimer* timer;
};

// The part of a loop that other threads reach; outlives the loop (shared).
struct LoopInbox;
// Any thread: queues `callback` for the loop behind `inbox`; false when that loop has
// closed (or is gone), and the callback is dropped.
CONCUR_EXPORT bool post_to_inbox(const std::weak_ptr<LoopInbox>& inbox, std::function<void()> callback);

// Something that holds a libuv handle (a stream, a server, a subprocess). The loop
// closes the ones still open when it is destroyed, so that nothing outlives it.
class LoopResource {
 public:
  virtual void close_now() noexcept = 0;
  LoopResource* prev_resource = nullptr;  // the loop's list
  LoopResource* next_resource = nullptr;

 protected:
  virtual ~LoopResource() = default;
};

}  // namespace detail

class CONCUR_EXPORT EventLoop {
 public:
  // Error if libuv cannot make a loop; InvalidState if this thread already runs one.
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The loop running on this thread, or nullptr.
  static EventLoop* current() noexcept;

  // Runs `main` as a task on this loop until it ends; returns its value or rethrows.
  // SIGINT while it runs cancels `main` (its CancelledError then propagates here).
  // Defined in spawn.hpp.
  template <class T>
  T run_until_complete(Task<T> main);

  // Loop thread: resumes `handle` on a later turn, after what is already ready.
  template <class P>
  void call_soon(std::coroutine_handle<P> handle) {
    ready_handles_.emplace_back(std::coroutine_handle<>(handle));
  }
  // Loop thread: runs `callback()` on a later turn (Python: loop.call_soon).
  template <class F>
    requires std::is_invocable_v<std::decay_t<F>&>
  void call_soon(F&& callback) {
    ready_callbacks_.emplace_back(std::forward<F>(callback));
  }
  // Any thread: runs `callback` on the loop thread soon. False (and the callback is
  // dropped) when the loop has closed.
  bool call_soon_threadsafe(std::function<void()> callback);
  std::shared_ptr<detail::LoopInbox> inbox() const noexcept { return inbox_; }

  // Loop thread: timers (see sleep.hpp).
  void add_timer(detail::LoopTimer& timer);
  void remove_timer(detail::LoopTimer& timer) noexcept;

  // What is still pending: ready callbacks, timers and live tasks.
  std::size_t pending() const noexcept;

  // For spawn(): registers a task so that the end of the loop can cancel it.
  void adopt_task(detail::TaskContext& task) noexcept;
  void forget_task(detail::TaskContext& task) noexcept;

  // The libuv loop (a uv_loop_t*), for the network layer.
  void* native() const noexcept;
  // The network layer's resources: tracked from open to close (see LoopResource).
  void track(detail::LoopResource& resource) noexcept;
  void untrack(detail::LoopResource& resource) noexcept;
  // libuv handles open or closing, not counting the loop's own: 0 once every stream,
  // server and subprocess is closed (and the loop has run a turn).
  std::size_t open_handles() const noexcept;

 private:
  // Runs turns until `stop()` is true.
  template <class Stop>
  void run_until(Stop stop) {
    while (!stop()) run_once();
  }
  void run_once();  // one turn; blocks only when it found nothing to do
  bool fire_due_timers();
  void cancel_remaining_tasks();
  void start_sigint_watch(detail::TaskContext& main);
  void stop_sigint_watch() noexcept;

  struct Native;
  std::unique_ptr<Native> native_;
  std::shared_ptr<detail::LoopInbox> inbox_;
  // What is ready runs in batches: a turn swaps the vector with its spare (no copies,
  // no allocation once warm) and runs what it took, in order; callbacks likewise.
  detail::HandleQueue ready_handles_;
  detail::CallbackQueue ready_callbacks_;
  // A binary min-heap on (deadline, sequence).
  std::vector<detail::TimerEntry> timers_;
  unsigned busy_turns_ = 0;  // turns since I/O was last polled while work stayed ready
  std::uint32_t timer_sequence_ = 0;  // wraps; see added_before
  detail::TaskContext* tasks_ = nullptr;  // live spawned tasks
  std::size_t task_count_ = 0;
  detail::LoopResource* resources_ = nullptr;
};

}  // namespace v0
}  // namespace concur
