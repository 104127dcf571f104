// A latch on a mutex and condition variable. The tests use it instead of test::Latch,
// whose libstdc++ 12 implementation (atomic wait/notify) loses wake-ups when built with
// clang and ThreadSanitizer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace concur::test {

class Latch {
 public:
  explicit Latch(std::ptrdiff_t count) : count_(count) {}
  void count_down() {
    std::lock_guard lock(mutex_);
    if (count_ > 0 && --count_ == 0) cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return count_ == 0; });
  }
  // False when the timeout passed first.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return count_ == 0; });
  }
  void arrive_and_wait() {
    count_down();
    wait();
  }
  bool try_wait() {
    std::lock_guard lock(mutex_);
    return count_ == 0;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::ptrdiff_t count_;
};

}  // namespace concur::test
