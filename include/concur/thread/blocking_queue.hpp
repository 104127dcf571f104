// BlockingQueue<T>: the thread-safe FIFO for passing data between threads (Python:
// queue.Queue). Not the event loop's Queue: this one blocks the calling thread.
//
//   BlockingQueue<Item> q(100);        // at most 100 items; 0 means unbounded
//   q.put(item);                       // blocks while full
//   Item x = q.get();                  // blocks while empty
//   q.close();                         // wakes everyone; see below
//
// close() (Python 3.13: shutdown()) wakes every waiter: puts then throw QueueShutDown;
// gets drain what is left, then throw QueueShutDown. The timed and try_ forms report a
// timeout or a full/empty queue by their return value and leave the argument untouched.
// task_done()/join() count finished items as in Python.
//
// Thread safety: every member may be called concurrently. Ordering: a put happens-
// before the get that returns its item.
#pragma once

#include <concur/core/detail/mutex.hpp>
#include <concur/errors.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

namespace concur {
inline namespace v0 {

template <class T>
class BlockingQueue {
 public:
  explicit BlockingQueue(std::size_t capacity = 0) : capacity_(capacity) {}
  BlockingQueue(const BlockingQueue&) = delete;
  BlockingQueue& operator=(const BlockingQueue&) = delete;

  // Blocks while full. Throws QueueShutDown when closed.
  template <class U = T>
  void put(U&& value) {
    detail::Lock lock(mutex_);
    while (!closed_ && full_locked()) lock.wait(not_full_);
    push_locked(std::forward<U>(value));
  }
  // False when full; throws QueueShutDown when closed.
  template <class U = T>
  bool try_put(U&& value) {
    detail::Lock lock(mutex_);
    if (!closed_ && full_locked()) return false;
    push_locked(std::forward<U>(value));
    return true;
  }
  template <class U, class Rep, class Period>
  bool put_for(U&& value, const std::chrono::duration<Rep, Period>& timeout) {
    return put_until(std::forward<U>(value), std::chrono::steady_clock::now() + timeout);
  }
  template <class U, class Clock, class Duration>
  bool put_until(U&& value, const std::chrono::time_point<Clock, Duration>& deadline) {
    detail::Lock lock(mutex_);
    while (!closed_ && full_locked()) {
      if (!lock.wait_until(not_full_, deadline) && !closed_ && full_locked()) return false;
    }
    push_locked(std::forward<U>(value));
    return true;
  }

  // Blocks while empty. Throws QueueShutDown when closed and empty.
  T get() {
    detail::Lock lock(mutex_);
    while (!closed_ && items_.empty()) lock.wait(not_empty_);
    return pop_locked();
  }
  // Nothing when empty; throws QueueShutDown when closed and empty.
  std::optional<T> try_get() {
    detail::Lock lock(mutex_);
    if (!closed_ && items_.empty()) return std::nullopt;
    return pop_locked();
  }
  template <class Rep, class Period>
  std::optional<T> get_for(const std::chrono::duration<Rep, Period>& timeout) {
    return get_until(std::chrono::steady_clock::now() + timeout);
  }
  template <class Clock, class Duration>
  std::optional<T> get_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    detail::Lock lock(mutex_);
    while (!closed_ && items_.empty()) {
      if (!lock.wait_until(not_empty_, deadline) && !closed_ && items_.empty()) {
        return std::nullopt;
      }
    }
    return pop_locked();
  }

  // Wakes every waiter; see the class comment. Idempotent.
  void close() {
    {
      detail::Lock lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  // One item taken by get() is fully processed. Throws std::logic_error when called
  // more often than items were put (Python: ValueError).
  void task_done() {
    detail::Lock lock(mutex_);
    if (unfinished_ == 0) throw std::logic_error("BlockingQueue::task_done() called too many times");
    if (--unfinished_ == 0) all_done_.notify_all();
  }
  // Blocks until every item put so far was marked task_done().
  void join() {
    detail::Lock lock(mutex_);
    while (unfinished_ != 0) lock.wait(all_done_);
  }

  std::size_t size() const {
    detail::Lock lock(mutex_);
    return items_.size();
  }
  bool empty() const { return size() == 0; }
  bool full() const {
    detail::Lock lock(mutex_);
    return full_locked();
  }
  bool closed() const {
    detail::Lock lock(mutex_);
    return closed_;
  }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  bool full_locked() const CONCUR_REQUIRES(mutex_) {
    return capacity_ != 0 && items_.size() >= capacity_;
  }
  template <class U>
  void push_locked(U&& value) CONCUR_REQUIRES(mutex_) {
    if (closed_) throw QueueShutDown();
    items_.emplace_back(std::forward<U>(value));
    ++unfinished_;
    not_empty_.notify_one();
  }
  T pop_locked() CONCUR_REQUIRES(mutex_) {
    if (items_.empty()) throw QueueShutDown();
    T value = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return value;
  }

  const std::size_t capacity_;
  mutable detail::Mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable all_done_;
  std::deque<T> items_ CONCUR_GUARDED_BY(mutex_);
  std::size_t unfinished_ CONCUR_GUARDED_BY(mutex_) = 0;
  bool closed_ CONCUR_GUARDED_BY(mutex_) = false;
};

}  // namespace v0
}  // namespace concur
