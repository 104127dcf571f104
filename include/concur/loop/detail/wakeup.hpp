// Wakeup: a task suspended until something wakes it (a libuv completion, a task's end),
// a timeout or a cancel, whichever comes first.
//
//   Wakeup waiter;
//   core.reader = &waiter;             // the completion side calls waiter.wake()
//   co_await waiter.wait(timeout);
//   core.reader = nullptr;
//   waiter.throw_if_interrupted("concur::Stream::read_some");
//
// Whoever calls wake() must forget the waiter: after its task resumes it is gone.
// LoopClock::duration is nanoseconds, so a caller's "no timeout" (nanoseconds::max())
// is the waiter's "no time limit" as it is.
// Thread safety: loop-thread only.
#pragma once

#include <concur/errors.hpp>
#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <string>

namespace concur {
inline namespace v0 {
namespace detail {

// The deadline `timeout` from now; LoopClock::time_point::max() for nanoseconds::max().
inline LoopClock::time_point deadline_after(LoopClock::duration timeout) noexcept {
  return timeout == LoopClock::duration::max() ? LoopClock::time_point::max() : LoopClock::now() + timeout;
}

class Wakeup final : Interruptible {
 public:
  enum class State { idle, waiting, woken, timed_out, cancelled };

  Wakeup() = default;
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  struct Suspend {
    Wakeup& self;
    LoopClock::duration timeout;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> handle) {
      return self.suspend(context_of(handle), handle, timeout);
    }
    void await_resume() const noexcept {}
  };
  // Suspends the current task; LoopClock::duration::max() waits without a time limit.
  Suspend wait(LoopClock::duration timeout) noexcept { return Suspend{*this, timeout}; }
  // The same until `deadline`; LoopClock::time_point::max() waits without a time limit.
  Suspend wait_until(LoopClock::time_point deadline) noexcept {
    if (deadline == LoopClock::time_point::max()) return wait(LoopClock::duration::max());
    return wait(std::max(deadline - LoopClock::now(), LoopClock::duration::zero()));
  }

  // The awaited completion happened: the task resumes on the loop's next turn. Does
  // nothing when the wait already ended.
  void wake() noexcept {
    if (state_ != State::waiting) return;
    end(State::woken);
  }
  State state() const noexcept { return state_; }
  // After the wait: CancelledError or TimeoutError naming `what` and the time limit
  // (`limit`: the caller's whole limit when this wait had what was left of it).
  void throw_if_interrupted(const char* what) const { throw_if_interrupted(what, timeout_); }
  void throw_if_interrupted(const char* what, LoopClock::duration limit) const {
    if (state_ == State::cancelled) throw CancelledError();
    if (state_ == State::timed_out) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
      throw TimeoutError(std::string(what) + ": timed out after " + std::to_string(ms) + " ms");
    }
  }

 private:
  bool suspend(TaskContext& context, std::coroutine_handle<> handle, LoopClock::duration timeout) {
    context_ = &context;
    handle_ = handle;
    timeout_ = timeout;
    if (context.take_pending_cancel()) {
      state_ = State::cancelled;
      return false;
    }
    state_ = State::waiting;
    if (timeout != LoopClock::duration::max()) {
      timer_.deadline = LoopClock::now() + timeout;
      timer_.fire = [](LoopTimer& timer) noexcept { static_cast<Wakeup*>(OwnedTimer::owner_of(timer))->end(State::timed_out); };
      timer_.owner = this;
      context.loop->add_timer(timer_);
      timer_armed_ = true;
    }
    context.waiting_on = this;
    return true;
  }
  void interrupt() noexcept override { end(State::cancelled); }
  void end(State how) noexcept {
    state_ = how;
    if (timer_armed_) {
      context_->loop->remove_timer(timer_);
      timer_armed_ = false;
    }
    if (context_->waiting_on == this) context_->waiting_on = nullptr;
    context_->loop->call_soon(handle_);
  }

  State state_ = State::idle;
  TaskContext* context_ = nullptr;
  std::coroutine_handle<> handle_;
  LoopClock::duration timeout_{};
  OwnedTimer timer_;
  bool timer_armed_ = false;
};

// A libuv request that a waiting task may abandon (cancelled or timed out) while libuv
// still holds it: until then the task owns it; after, the completion callback, which
// always comes, deletes it.
struct AbandonableRequest {
  Wakeup* waiter = nullptr;
  bool abandoned = false;
  bool completed = false;
  int status = 0;
  // From the libuv callback: records `result`, then wakes the task or deletes itself.
  template <class Self>
  static void complete(Self* self, int result) noexcept {
    self->completed = true;
    self->status = result;
    if (self->abandoned) {
      delete self;
    } else {
      self->waiter->wake();
    }
  }
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
