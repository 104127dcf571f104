// sleep(d) and yield_now(): suspend the current task (Python: asyncio.sleep).
//
//   co_await concur::sleep(100ms);   // resumes after at least 100 ms, never earlier
//   co_await concur::yield_now();    // lets every other ready task run first (sleep(0))
//
// Timers fire in deadline order (equal deadlines in the order they were set). Cancelling
// a sleeping task removes its timer and raises CancelledError at the co_await.
// Thread safety: loop-thread only.
#pragma once

#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <chrono>
#include <coroutine>

namespace concur {
inline namespace v0 {
namespace detail {

// Lives in the sleeping coroutine's frame, so it is kept small: it is its own timer
// entry, and the entry's deadline holds the duration until the awaiter suspends.
class SleepAwaiter final : Interruptible, LoopTimer {
 public:
  explicit SleepAwaiter(LoopClock::duration duration) { deadline = LoopClock::time_point(duration); }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    context_ = &context_of(handle);
    if (context_->take_pending_cancel()) {
      cancelled_ = true;
      return false;
    }
    waiter_ = handle;
    const LoopClock::duration duration = deadline.time_since_epoch();
    if (duration <= LoopClock::duration::zero()) {  // a bare yield: not interruptible
      context_->loop->call_soon(handle);
      return true;
    }
    deadline = LoopClock::now() + duration;
    fire = &SleepAwaiter::on_timer;
    context_->loop->add_timer(*this);
    context_->waiting_on = this;
    return true;
  }
  void await_resume() {
    if (cancelled_ || context_->take_pending_cancel()) throw CancelledError();
  }

 private:
  static void on_timer(LoopTimer& timer) noexcept {
    auto& self = static_cast<SleepAwaiter&>(timer);
    if (self.context_->waiting_on == &self) self.context_->waiting_on = nullptr;
    self.context_->loop->call_soon(self.waiter_);
  }
  void interrupt() noexcept override {
    context_->loop->remove_timer(*this);
    cancelled_ = true;
    context_->loop->call_soon(waiter_);
  }

  TaskContext* context_ = nullptr;
  std::coroutine_handle<> waiter_;
  bool cancelled_ = false;
};

}  // namespace detail

template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> duration) {
  return detail::SleepAwaiter(std::chrono::ceil<detail::LoopClock::duration>(duration));
}

inline detail::SleepAwaiter yield_now() { return detail::SleepAwaiter(detail::LoopClock::duration::zero()); }

}  // namespace v0
}  // namespace concur
