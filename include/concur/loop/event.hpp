// Event: a flag that tasks can wait for (Python: asyncio.Event).
//
//   concur::Event ready;
//   co_await ready.wait();     // until someone calls ready.set()
//
// set() wakes every waiter (they resume in the order they started waiting); wait()
// returns at once while the flag is set; clear() resets it. A cancelled waiter raises
// CancelledError and leaves the queue. Thread safety: loop-thread only.
#pragma once

#include <concur/loop/detail/wait_queue.hpp>

namespace concur {
inline namespace v0 {

class Event {
 public:
  class Waiting final : detail::QueueWaiter {
   public:
    explicit Waiting(Event& event) : event_(event) {}
    bool await_ready() const noexcept { return event_.set_; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> handle) {
      return suspend_on(event_.waiters_, handle);
    }
    void await_resume() const { resume_or_throw(); }

   private:
    Event& event_;
  };

  bool is_set() const noexcept { return set_; }
  void set() noexcept {
    set_ = true;
    waiters_.wake_all();
  }
  void clear() noexcept { set_ = false; }
  Waiting wait() { return Waiting(*this); }

 private:
  bool set_ = false;
  detail::WaitQueue waiters_;
};

}  // namespace v0
}  // namespace concur
