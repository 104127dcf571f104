// Queue<T>: a FIFO between tasks, bounded or not (Python: asyncio.Queue, with 3.13's
// shutdown as close()).
//
//   concur::Queue<Item> queue(100);          // put suspends while 100 items wait
//   co_await queue.put(item);                // producer
//   Item next = co_await queue.get();        // consumer; suspends while empty
//   queue.close();                           // wakes everyone
//
// Backpressure: put suspends while the queue is full (maxsize 0: never). Both sides are
// FIFO-fair: a freed slot or a new item is reserved for the longest waiter. close():
// every waiting put and every later put throw QueueShutDown; get drains what is left,
// then throws QueueShutDown. A cancelled waiter raises CancelledError and loses nothing
// (a put that was cancelled did not enqueue; a get that was cancelled took nothing).
// Thread safety: loop-thread only.
#pragma once

#include <concur/errors.hpp>
#include <concur/loop/detail/wait_queue.hpp>

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

namespace concur {
inline namespace v0 {

template <class T>
class Queue {
 public:
  class Putting final : detail::QueueWaiter {
   public:
    Putting(Queue& q, T value) : queue_(q), value_(std::move(value)) {}
    bool await_ready() {
      if (queue_.closed_) return true;
      if (queue_.putters_.empty() && !queue_.full()) {
        queue_.push(std::move(value_));
        done_ = true;
        return true;
      }
      return false;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> handle) {
      return suspend_on(queue_.putters_, handle);
    }
    void await_resume() {
      if (done_) return;
      resume_or_throw();
      if (!granted()) throw QueueShutDown("concur::Queue: put on a closed queue");
      --queue_.reserved_slots_;
      queue_.push(std::move(value_));
    }

   private:
    Queue& queue_;
    T value_;
    bool done_ = false;
  };

  class Getting final : detail::QueueWaiter {
   public:
    explicit Getting(Queue& q) : queue_(q) {}
    bool await_ready() const noexcept {
      return (queue_.getters_.empty() && queue_.unclaimed() > 0) || (queue_.closed_ && queue_.unclaimed() == 0);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> handle) {
      return suspend_on(queue_.getters_, handle);
    }
    T await_resume() {
      resume_or_throw();
      if (granted()) {
        --queue_.claimed_items_;
      } else if (queue_.unclaimed() == 0) {
        throw QueueShutDown("concur::Queue: get on a closed, empty queue");
      }
      return queue_.pop();
    }

   private:
    Queue& queue_;
  };

  // maxsize 0: unbounded.
  explicit Queue(std::size_t maxsize = 0) : maxsize_(maxsize) {}

  Putting put(T value) { return Putting(*this, std::move(value)); }
  Getting get() { return Getting(*this); }
  // Without suspending: false when full (or closed: QueueShutDown); nullopt when empty.
  bool try_put(T value) {
    if (closed_) throw QueueShutDown("concur::Queue: put on a closed queue");
    if (!putters_.empty() || full()) return false;
    push(std::move(value));
    return true;
  }
  std::optional<T> try_get() {
    if (!getters_.empty() || unclaimed() == 0) return std::nullopt;
    return pop();
  }

  void close() noexcept {
    closed_ = true;
    putters_.wake_all(false);
    getters_.wake_all(false);
  }
  bool closed() const noexcept { return closed_; }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  bool full() const noexcept { return maxsize_ != 0 && items_.size() + reserved_slots_ >= maxsize_; }

 private:
  std::size_t unclaimed() const noexcept { return items_.size() - claimed_items_; }
  void push(T value) {
    items_.push_back(std::move(value));
    if (getters_.wake_one()) ++claimed_items_;  // the new item waits for that getter
  }
  T pop() {
    T value = std::move(items_.front());
    items_.pop_front();
    if (!closed_ && putters_.wake_one()) ++reserved_slots_;  // the freed slot waits for that putter
    return value;
  }

  std::size_t maxsize_;
  std::deque<T> items_;
  std::size_t claimed_items_ = 0;   // items promised to woken getters
  std::size_t reserved_slots_ = 0;  // slots promised to woken putters
  bool closed_ = false;
  detail::WaitQueue getters_;
  detail::WaitQueue putters_;
};

}  // namespace v0
}  // namespace concur
