// The FIFO of suspended tasks behind Event, Lock, Semaphore and Queue: each waiter is
// an awaiter living in its coroutine frame, linked in while it waits. A cancelled waiter
// unlinks itself and resumes with CancelledError; a woken one is resumed on the loop's
// next turn. Loop-thread only.
#pragma once

#include <concur/errors.hpp>
#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <coroutine>

namespace concur {
inline namespace v0 {
namespace detail {

class WaitQueue;

class QueueWaiter : public Interruptible {
 public:
  // Suspends unless a cancel is pending (then await_resume throws).
  template <class P>
  bool suspend_on(WaitQueue& queue, std::coroutine_handle<P> handle);
  // True when it was woken (granted); throws CancelledError when it was interrupted.
  void resume_or_throw() const {
    if (cancelled_) throw CancelledError();
  }
  // Whether the waker handed this waiter what it waited for (wake_one(true)).
  bool granted() const noexcept { return granted_; }

 protected:
  ~QueueWaiter() override = default;

 private:
  friend class WaitQueue;
  void interrupt() noexcept override;

  WaitQueue* queue_ = nullptr;
  TaskContext* context_ = nullptr;
  std::coroutine_handle<> handle_;
  QueueWaiter* prev_ = nullptr;
  QueueWaiter* next_ = nullptr;
  bool cancelled_ = false;
  bool granted_ = false;
};

class WaitQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  // Wakes the first waiter, handing it what it waits for when `grant`; false when none
  // waits.
  bool wake_one(bool grant = true) noexcept {
    QueueWaiter* w = head_;
    if (w == nullptr) return false;
    unlink(*w);
    w->granted_ = grant;
    if (w->context_->waiting_on == w) w->context_->waiting_on = nullptr;
    w->context_->loop->call_soon(w->handle_);
    return true;
  }
  void wake_all(bool grant = true) noexcept {
    while (wake_one(grant)) {
    }
  }

 private:
  friend class QueueWaiter;
  void push(QueueWaiter& w) noexcept {
    w.prev_ = tail_;
    w.next_ = nullptr;
    if (tail_ != nullptr) tail_->next_ = &w;
    else head_ = &w;
    tail_ = &w;
  }
  void unlink(QueueWaiter& w) noexcept {
    if (w.prev_ != nullptr) w.prev_->next_ = w.next_;
    else head_ = w.next_;
    if (w.next_ != nullptr) w.next_->prev_ = w.prev_;
    else tail_ = w.prev_;
    w.prev_ = w.next_ = nullptr;
    w.queue_ = nullptr;
  }

  QueueWaiter* head_ = nullptr;
  QueueWaiter* tail_ = nullptr;
};

template <class P>
bool QueueWaiter::suspend_on(WaitQueue& queue, std::coroutine_handle<P> handle) {
  context_ = &context_of(handle);
  if (context_->take_pending_cancel()) {
    cancelled_ = true;
    return false;
  }
  handle_ = handle;
  queue_ = &queue;
  queue.push(*this);
  context_->waiting_on = this;
  return true;
}

inline void QueueWaiter::interrupt() noexcept {
  if (queue_ != nullptr) queue_->unlink(*this);
  cancelled_ = true;
  context_->loop->call_soon(handle_);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
