// One worker's deque of task states: a growable ring buffer under a spin lock. The
// owner pushes and pops at the back (LIFO: a task's subtasks run depth-first, hot in
// cache); thieves take from the front (the oldest, largest pieces of work). The deque
// holds one reference to each state in it. `approx_size` may be read without the lock
// to decide whether a lock is worth taking; only locked answers are authoritative.
#pragma once

#include <concur/core/detail/shared_state.hpp>
#include <concur/core/detail/spin_lock.hpp>

#include <atomic>
#include <cstddef>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

class alignas(64) WorkDeque {
 public:
  WorkDeque() : ring_(kInitialCapacity) {}

  void push_back(StateBase* task) {
    SpinGuard guard(lock_);
    if (size_locked() == ring_.size()) grow();
    ring_[(front_ + size_locked()) & (ring_.size() - 1)] = task;
    set_size(size_locked() + 1);
  }

  StateBase* pop_back() {
    if (approx_size() == 0) return nullptr;
    SpinGuard guard(lock_);
    const std::size_t n = size_locked();
    if (n == 0) return nullptr;
    set_size(n - 1);
    return ring_[(front_ + n - 1) & (ring_.size() - 1)];
  }

  // Removes `task` if it is the newest entry (the usual case when a task waits on the
  // subtask it just submitted).
  bool pop_back_if(const StateBase* task) {
    SpinGuard guard(lock_);
    const std::size_t n = size_locked();
    if (n == 0 || ring_[(front_ + n - 1) & (ring_.size() - 1)] != task) return false;
    set_size(n - 1);
    return true;
  }

  StateBase* steal_front() {
    if (approx_size() == 0) return nullptr;
    SpinGuard guard(lock_);
    const std::size_t n = size_locked();
    if (n == 0) return nullptr;
    StateBase* task = ring_[front_];
    front_ = (front_ + 1) & (ring_.size() - 1);
    set_size(n - 1);
    return task;
  }

  // Unlinks everything into `out`, oldest first.
  void take_all(std::vector<StateBase*>& out) {
    SpinGuard guard(lock_);
    for (std::size_t i = 0; i < size_locked(); ++i) {
      out.push_back(ring_[(front_ + i) & (ring_.size() - 1)]);
    }
    front_ = 0;
    set_size(0);
  }

  std::size_t locked_size() {
    SpinGuard guard(lock_);
    return size_locked();
  }

  std::size_t approx_size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kInitialCapacity = 256;  // a power of two

  std::size_t size_locked() const CONCUR_REQUIRES(lock_) {
    return size_.load(std::memory_order_relaxed);
  }
  void set_size(std::size_t n) CONCUR_REQUIRES(lock_) {
    size_.store(n, std::memory_order_relaxed);
  }
  void grow() CONCUR_REQUIRES(lock_) {
    std::vector<StateBase*> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < size_locked(); ++i) {
      bigger[i] = ring_[(front_ + i) & (ring_.size() - 1)];
    }
    ring_ = std::move(bigger);
    front_ = 0;
  }

  SpinLock lock_;
  std::vector<StateBase*> ring_ CONCUR_GUARDED_BY(lock_);
  std::size_t front_ CONCUR_GUARDED_BY(lock_) = 0;
  std::atomic<std::size_t> size_{0};  // written under the lock only
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
