// One worker's FIFO of task states: an intrusive list under a spin lock (the critical
// sections are a few pointer writes; a sleeping mutex costs syscalls under contention). The queue holds
// one reference to each state it links. `approx_size` may be read without the lock to
// decide whether a lock is worth taking; only a locked check is authoritative.
#pragma once

#include <concur/core/detail/spin_lock.hpp>
#include <concur/core/detail/shared_state.hpp>

#include <atomic>
#include <cstddef>

namespace concur {
inline namespace v0 {
namespace detail {

class alignas(64) WorkQueue {
 public:
  void push(StateBase* task) {
    SpinGuard guard(lock_);
    task->next = nullptr;
    if (tail_ == nullptr) {
      head_ = task;
    } else {
      tail_->next = task;
    }
    tail_ = task;
    size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  StateBase* pop() {
    if (size_.load(std::memory_order_relaxed) == 0) return nullptr;
    SpinGuard guard(lock_);
    StateBase* task = head_;
    if (task == nullptr) return nullptr;
    head_ = task->next;
    if (head_ == nullptr) tail_ = nullptr;
    size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    return task;
  }

  // Unlinks everything, oldest first.
  StateBase* pop_all() {
    SpinGuard guard(lock_);
    StateBase* list = head_;
    head_ = tail_ = nullptr;
    size_.store(0, std::memory_order_relaxed);
    return list;
  }

  bool empty_locked_check() {
    SpinGuard guard(lock_);
    return head_ == nullptr;
  }

  std::size_t locked_size() {
    SpinGuard guard(lock_);
    return size_.load(std::memory_order_relaxed);
  }

  std::size_t approx_size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  SpinLock lock_;
  StateBase* head_ CONCUR_GUARDED_BY(lock_) = nullptr;
  StateBase* tail_ CONCUR_GUARDED_BY(lock_) = nullptr;
  std::atomic<std::size_t> size_{0};
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
