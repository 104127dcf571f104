// An annotated mutex and lock, so that clang's -Wthread-safety checks which fields a
// lock guards. Thin wrappers over std::mutex and std::condition_variable: same cost.
#pragma once

#include <concur/core/detail/thread_annotations.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace concur {
inline namespace v0 {
namespace detail {

class CONCUR_CAPABILITY("mutex") Mutex {
 public:
  void lock() CONCUR_ACQUIRE() { mu_.lock(); }
  void unlock() CONCUR_RELEASE() { mu_.unlock(); }
  bool try_lock() CONCUR_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  std::mutex& native() noexcept { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope; can wait on a condition variable meanwhile.
class CONCUR_SCOPED_CAPABILITY Lock {
 public:
  explicit Lock(Mutex& mu) CONCUR_ACQUIRE(mu) : lock_(mu.native()) {}
  ~Lock() CONCUR_RELEASE() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  void wait(std::condition_variable& cv) { cv.wait(lock_); }
  // Returns false when the deadline passed.
  template <class Clock, class Duration>
  bool wait_until(std::condition_variable& cv,
                  const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv.wait_until(lock_, deadline) == std::cv_status::no_timeout;
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
