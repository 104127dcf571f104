// co_await on a concur::Future from a Task: the loop goes on while a ThreadPool or
// ProcessPool computes (Python: await asyncio.wrap_future(f)).
//
//   concur::Task<double> analyse(concur::ProcessPool& pool, Input in) {
//     double x = co_await pool.submit(simulate, in);   // the loop is not blocked
//     co_return x;
//   }
//
// The future's completion reaches the loop through call_soon_threadsafe. Cancelling the
// awaiting task cancels the future (a queued task never runs; a running ProcessPool task
// has its worker stopped, a running ThreadPool task gets a stop request) and raises
// CancelledError at once, without waiting for the future.
// Thread safety: loop-thread only; the future may complete on any thread.
#pragma once

#include <concur/core/future.hpp>
#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <atomic>
#include <coroutine>
#include <memory>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

// Shared by the awaiter and the done-callback, which may run after the awaiter is gone.
struct FutureWakeup {
  std::coroutine_handle<> waiter;
  TaskContext* context = nullptr;
  Interruptible* awaiter = nullptr;
  bool abandoned = false;  // loop thread only
};

template <class T>
class FutureAwaiter final : Interruptible {
 public:
  explicit FutureAwaiter(Future<T> future) : future_(std::move(future)) {}

  bool await_ready() const { return future_.ready(); }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    TaskContext& context = context_of(handle);
    if (context.take_pending_cancel()) {
      (void)future_.cancel();
      cancelled_ = true;
      return false;
    }
    wakeup_ = std::make_shared<FutureWakeup>(FutureWakeup{handle, &context, this});
    context.waiting_on = this;
    std::weak_ptr<LoopInbox> inbox = context.loop->inbox();
    future_.add_done_callback([inbox, wakeup = wakeup_] {
      // Any thread: hop to the loop. A loop that closed meanwhile drops the call.
      post_to_inbox(inbox, [wakeup] {
        if (wakeup->abandoned) return;
        if (wakeup->context->waiting_on == wakeup->awaiter) wakeup->context->waiting_on = nullptr;
        wakeup->context->loop->call_soon(wakeup->waiter);
      });
    });
    return true;
  }
  T await_resume() {
    if (cancelled_) throw CancelledError();
    if constexpr (std::is_void_v<T>) {
      future_.get();
    } else {
      return std::move(future_).get();
    }
  }

 private:
  void interrupt() noexcept override {
    wakeup_->abandoned = true;
    cancelled_ = true;
    (void)future_.cancel();
    wakeup_->context->loop->call_soon(wakeup_->waiter);
  }

  Future<T> future_;
  std::shared_ptr<FutureWakeup> wakeup_;
  bool cancelled_ = false;
};

}  // namespace detail

template <class T>
detail::FutureAwaiter<T> operator co_await(Future<T> future) {
  return detail::FutureAwaiter<T>(std::move(future));
}

}  // namespace v0
}  // namespace concur
