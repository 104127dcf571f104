// A test-and-test-and-set lock for critical sections of a few instructions (queue
// links). Never sleeps in the kernel: after a short spin it yields the CPU, so a
// preempted holder gets to run. Annotated for -Wthread-safety like Mutex.
//
// Ordering: lock() acquires, unlock() releases.
#pragma once

#include <concur/core/detail/cpu_relax.hpp>
#include <concur/core/detail/thread_annotations.hpp>

#include <atomic>
#include <thread>

namespace concur {
inline namespace v0 {
namespace detail {

class CONCUR_CAPABILITY("mutex") SpinLock {
 public:
  void lock() noexcept CONCUR_ACQUIRE() {
    for (unsigned spins = 0; locked_.exchange(true, std::memory_order_acquire);) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  void unlock() noexcept CONCUR_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Holds a SpinLock for its scope.
class CONCUR_SCOPED_CAPABILITY SpinGuard {
 public:
  explicit SpinGuard(SpinLock& lock) noexcept CONCUR_ACQUIRE(lock) : lock_(lock) { lock_.lock(); }
  ~SpinGuard() CONCUR_RELEASE() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
