// Lock and Semaphore for tasks (Python: asyncio.Lock, asyncio.Semaphore).
//
//   concur::Lock lock;
//   {
//     auto held = co_await lock.scoped();   // released when `held` goes
//     ...
//   }
//   concur::Semaphore slots(10);            // at most 10 tasks inside
//   auto slot = co_await slots.scoped();
//
// Both are FIFO-fair: release() hands the permit straight to the longest waiter, so a
// task that arrives later cannot barge in. A waiter cancelled before it got the permit
// raises CancelledError and leaves the queue; one cancelled after it was handed the
// permit keeps it (the cancel is delivered at its next suspension point) so no permit is
// ever lost. Thread safety: loop-thread only. Releasing more than was acquired throws
// InvalidState.
#pragma once

#include <concur/loop/detail/wait_queue.hpp>

#include <cstddef>
#include <utility>

namespace concur {
inline namespace v0 {

class Semaphore {
 public:
  // A guard that releases one permit when destroyed (move-only).
  class Permit {
   public:
    Permit() = default;
    explicit Permit(Semaphore& s) : semaphore_(&s) {}
    Permit(Permit&& other) noexcept : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
    Permit& operator=(Permit other) noexcept {
      std::swap(semaphore_, other.semaphore_);
      return *this;
    }
    ~Permit() {
      if (semaphore_ != nullptr) semaphore_->release();
    }

   private:
    Semaphore* semaphore_ = nullptr;
  };

  class Acquiring : detail::QueueWaiter {
   public:
    explicit Acquiring(Semaphore& s) : semaphore_(s) {}
    bool await_ready() noexcept { return semaphore_.try_acquire(); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> handle) {
      return suspend_on(semaphore_.waiters_, handle);
    }
    void await_resume() const { resume_or_throw(); }  // woken: the permit was handed over

   protected:
    Semaphore& semaphore_;
  };
  class ScopedAcquiring final : Acquiring {
   public:
    using Acquiring::Acquiring;
    using Acquiring::await_ready;
    using Acquiring::await_suspend;
    Permit await_resume() const {
      Acquiring::await_resume();
      return Permit(semaphore_);
    }
  };

  // std::invalid_argument for a negative count.
  explicit Semaphore(std::ptrdiff_t permits) : permits_(permits), limit_(permits) {
    if (permits < 0) throw std::invalid_argument("concur::Semaphore: a negative number of permits");
  }

  bool try_acquire() noexcept {
    if (permits_ == 0 || !waiters_.empty()) return false;  // FIFO: no barging past waiters
    --permits_;
    return true;
  }
  Acquiring acquire() { return Acquiring(*this); }
  ScopedAcquiring scoped() { return ScopedAcquiring(*this); }
  void release() {
    if (waiters_.wake_one()) return;  // handed straight to the longest waiter
    if (permits_ >= limit_) throw InvalidState("concur::Semaphore: released more often than acquired");
    ++permits_;
  }
  std::ptrdiff_t available() const noexcept { return permits_; }

 private:
  std::ptrdiff_t permits_;
  std::ptrdiff_t limit_;
  detail::WaitQueue waiters_;
};

// A Semaphore of one permit.
class Lock {
 public:
  Semaphore::Acquiring acquire() { return semaphore_.acquire(); }
  Semaphore::ScopedAcquiring scoped() { return semaphore_.scoped(); }
  bool try_acquire() noexcept { return semaphore_.try_acquire(); }
  void release() { semaphore_.release(); }
  bool locked() const noexcept { return semaphore_.available() == 0; }

 private:
  Semaphore semaphore_{1};
};

}  // namespace v0
}  // namespace concur
