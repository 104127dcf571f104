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
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

// Lives in the sleeping coroutine's frame, so it is kept small (40 bytes): it is its own
// timer entry, the entry's deadline holds the duration until the awaiter suspends, and
// the sleeping coroutine is reached through its promise (null once interrupted).
class SleepAwaiter final : Interruptible, LoopTimer {
 public:
  explicit SleepAwaiter(LoopClock::duration duration) { deadline = LoopClock::time_point(duration); }

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    TaskContext& context = context_of(handle);
    if (context.take_pending_cancel()) return false;  // promise_ stays null: cancelled
    promise_ = &handle.promise();
    const LoopClock::duration duration = deadline.time_since_epoch();
    if (duration <= LoopClock::duration::zero()) {  // a bare yield: not interruptible
      context.loop->call_soon(handle);
      return true;
    }
    deadline = LoopClock::now() + duration;
    fire = &SleepAwaiter::on_timer;
    context.loop->add_timer(*this);
    context.waiting_on = this;
    return true;
  }
  void await_resume() {
    if (promise_ == nullptr || promise_->context->take_pending_cancel()) throw CancelledError();
  }

 private:
  static void on_timer(LoopTimer& timer) noexcept {
    auto& self = static_cast<SleepAwaiter&>(timer);
    TaskContext& context = *self.promise_->context;
    if (context.waiting_on == &self) context.waiting_on = nullptr;
    context.loop->call_soon(frame_of(*self.promise_));
  }
  void interrupt() noexcept override {
    EventLoop& loop = *promise_->context->loop;
    loop.remove_timer(*this);
    loop.call_soon(frame_of(*std::exchange(promise_, nullptr)));
  }

  PromiseBase* promise_ = nullptr;  // the sleeping coroutine's; null when cancelled
};

}  // namespace detail

template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> duration) {
  return detail::SleepAwaiter(std::chrono::ceil<detail::LoopClock::duration>(duration));
}

inline detail::SleepAwaiter yield_now() { return detail::SleepAwaiter(detail::LoopClock::duration::zero()); }

}  // namespace v0
}  // namespace concur
