// Where tasks submitted from outside the pool arrive: a lock-free stack of task states
// whose word also carries a WATCHED bit, set by the one worker that spins for work.
//
// A submit is one CAS. It reports whether the submitter must consider waking a worker:
// only when the inbox was empty and unwatched. Otherwise an earlier submit did, or the
// watcher takes the whole inbox (take_all clears WATCHED in the same RMW). A CLOSED bit
// makes closing atomic with respect to submits: a push lands before it, or fails.
//
// Ordering: push is a release, take_all an acquire: a worker that takes a task sees
// everything written before its submit. All RMWs are seq_cst: they take part in the
// sleep protocol of the pool (see thread_pool.cpp).
#pragma once

#include <concur/core/detail/shared_state.hpp>

#include <atomic>
#include <cstdint>

namespace concur {
inline namespace v0 {
namespace detail {

class alignas(64) Inbox {
 public:
  enum class Pushed {
    watched,         // a worker is looking, or the inbox was not empty: nothing to do
    unwatched,       // the inbox was empty and unwatched: check for sleeping workers
    closed,          // refused: the inbox is closed
  };

  Pushed push(StateBase* task) noexcept {
    std::uintptr_t old = word_.load(std::memory_order_relaxed);
    std::uintptr_t desired;
    do {
      if ((old & kClosed) != 0) return Pushed::closed;
      task->next = to_task(old);
      desired = reinterpret_cast<std::uintptr_t>(task) | (old & kWatched);
    } while (!word_.compare_exchange_weak(old, desired, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
    return old == 0 ? Pushed::unwatched : Pushed::watched;
  }

  // Refuses every later push; what was pushed before stays for take_all.
  void close() noexcept { word_.fetch_or(kClosed, std::memory_order_seq_cst); }

  // Everything submitted so far, oldest first, linked through `next`; clears WATCHED.
  StateBase* take_all() noexcept {
    if (to_task(word_.load(std::memory_order_relaxed)) == nullptr) return nullptr;
    StateBase* newest = to_task(word_.fetch_and(kClosed, std::memory_order_seq_cst));
    StateBase* oldest = nullptr;  // reverse: the stack is newest first
    while (newest != nullptr) {
      StateBase* rest = newest->next;
      newest->next = oldest;
      oldest = newest;
      newest = rest;
    }
    return oldest;
  }

  void watch() noexcept { word_.fetch_or(kWatched, std::memory_order_seq_cst); }
  // True when tasks wait: submitters that saw WATCHED woke nobody for them.
  bool unwatch() noexcept {
    return to_task(word_.fetch_and(~kWatched, std::memory_order_seq_cst)) != nullptr;
  }

  bool has_tasks(std::memory_order order = std::memory_order_relaxed) const noexcept {
    return to_task(word_.load(order)) != nullptr;
  }

 private:
  static constexpr std::uintptr_t kWatched = 1;  // states are at least 8-byte aligned
  static constexpr std::uintptr_t kClosed = 2;

  static StateBase* to_task(std::uintptr_t word) noexcept {
    return reinterpret_cast<StateBase*>(word & ~(kWatched | kClosed));
  }

  std::atomic<std::uintptr_t> word_{0};
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
