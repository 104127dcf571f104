#include <concur/core/detail/shared_state.hpp>

#include <concur/core/detail/cpu_relax.hpp>
#include <concur/core/detail/spin_governor.hpp>
#include <concur/core/this_task.hpp>
#include <concur/core/unhandled_exception.hpp>

#include "parking_lot.hpp"

#include <algorithm>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

constexpr std::uint64_t kRunning = static_cast<std::uint64_t>(Phase::running);
constexpr std::uint64_t kFinished = static_cast<std::uint64_t>(Phase::finished);
constexpr std::uint64_t kCancelled = static_cast<std::uint64_t>(Phase::cancelled);

bool is_final(std::uint64_t word) noexcept { return (word & 3) >= kFinished; }

// How long a waiter polls before it sleeps: waking a sleeping thread on the other core
// costs 8-23 us on the machines we measured, so short tasks are awaited by spinning.
constexpr auto kWaitSpin = std::chrono::microseconds(20);

thread_local WaitHelper* tls_wait_helper = nullptr;
thread_local const StateBase* tls_current_task = nullptr;

}  // namespace

StateBase::~StateBase() {
  // Only states that never finished can still hold callbacks (an abandoned task).
  while (callbacks_ != nullptr) delete std::exchange(callbacks_, callbacks_->next);
}

bool StateBase::try_start() noexcept {
  std::uint64_t s = word_.load(std::memory_order_relaxed);
  while ((s & kPhaseMask) == 0) {
    if (word_.compare_exchange_weak(s, s | kRunning, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool StateBase::cancel() noexcept {
  std::uint64_t s = word_.load(std::memory_order_acquire);
  while ((s & kPhaseMask) == 0) {
    if (word_.compare_exchange_weak(s, s | kCancelled, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      if ((s & (kWaiters | kCallbacks)) != 0) wake_and_run_callbacks(s);
      return true;
    }
  }
  if ((s & kPhaseMask) == kRunning) {
    const std::uint64_t before = word_.fetch_or(kStopRequested, std::memory_order_acq_rel);
    if ((before & (kStopRequested | kPhaseMask)) == kRunning) on_stop_requested();
    return false;
  }
  return (s & kPhaseMask) == kCancelled;
}

void StateBase::finish() noexcept {
  // running (01) -> finished (10) in one RMW; we own the running phase, so only the
  // flags and the reference count can change concurrently.
  const std::uint64_t s = word_.fetch_xor(kRunning ^ kFinished, std::memory_order_acq_rel);
  if ((s & (kWaiters | kCallbacks)) != 0) wake_and_run_callbacks(s);
}

void StateBase::complete_and_release() noexcept {
  // running (01) + 1 = finished (10), minus our reference, in one CAS. Only without
  // sleepers or callbacks: those need the state alive after the phase changed, and the
  // other holders may drop it the moment they see the result.
  std::uint64_t s = word_.load(std::memory_order_relaxed);
  while ((s & (kWaiters | kCallbacks)) == 0) {
    if (word_.compare_exchange_weak(s, s + (kFinished - kRunning) - kOneRef,
                                    std::memory_order_acq_rel, std::memory_order_relaxed)) {
      if ((s >> kRefShift) == 1) delete this;  // nobody else held it
      return;
    }
  }
  finish();
  release();
}

void StateBase::wake_and_run_callbacks(std::uint64_t flags) noexcept {
  ParkingBucket& bucket = parking_bucket(this);
  Callback* list = nullptr;
  {
    Lock lock(bucket.mutex);
    list = std::exchange(callbacks_, nullptr);
  }
  // A waiter sets kWaiters under the bucket lock and sleeps atomically with releasing
  // it, so once we held the lock every such waiter is asleep or will see the phase.
  if ((flags & kWaiters) != 0) bucket.cv.notify_all();
  Callback* fifo = nullptr;  // the list is newest first; run in registration order
  while (list != nullptr) {
    Callback* rest = list->next;
    list->next = fifo;
    fifo = list;
    list = rest;
  }
  while (fifo != nullptr) {
    Callback* rest = fifo->next;
    fifo->invoke(*this);
    delete fifo;
    fifo = rest;
  }
}

void StateBase::add_callback(Callback* callback) {
  {
    ParkingBucket& bucket = parking_bucket(this);
    Lock lock(bucket.mutex);
    std::uint64_t s = word_.load(std::memory_order_acquire);
    while (!is_final(s)) {
      if (word_.compare_exchange_weak(s, s | kCallbacks, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        callback->next = callbacks_;
        callbacks_ = callback;
        return;
      }
    }
  }
  callback->invoke(*this);
  delete callback;
}

bool StateBase::block_until(Deadline deadline) const {
  ParkingBucket& bucket = parking_bucket(this);
  Lock lock(bucket.mutex);
  for (;;) {
    std::uint64_t s = word_.load(std::memory_order_acquire);
    if (is_final(s)) return true;
    if ((s & kWaiters) == 0 &&
        !word_.compare_exchange_weak(s, s | kWaiters, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      continue;
    }
    if (!deadline) {
      lock.wait(bucket.cv);
    } else if (!lock.wait_until(bucket.cv, *deadline)) {
      return is_final(word_.load(std::memory_order_acquire));
    }
  }
}

bool StateBase::wait_until(Deadline deadline) const {
  if (ready()) return true;
  if (WaitHelper* helper = tls_wait_helper) {
    helper->try_run_inline(const_cast<StateBase&>(*this));
    if (ready()) return true;
  }
  SpinGovernor& governor = this_thread_spin_governor();
  const auto start = Clock::now();
  if (governor.may_poll(start)) {
    const auto spin_end = std::min(start + kWaitSpin, deadline.value_or(Clock::time_point::max()));
    for (unsigned i = 1;; ++i) {
      if (ready()) return true;
      cpu_relax();
      if (i % 64 == 0 && (Clock::now() >= spin_end || !governor.yield())) break;
    }
  }
  if (tls_wait_helper == nullptr) return block_until(deadline);
  return wait_helping([this] { return ready(); },
                      [this](Deadline until) { block_until(until); }, deadline);
}

void StateBase::check_result() const {
  if (phase() == Phase::cancelled) throw CancelledError();
  if (error_ != nullptr) std::rethrow_exception(error_);
}

WaitHelper*& current_wait_helper() noexcept { return tls_wait_helper; }

CurrentTaskScope::CurrentTaskScope(const StateBase* task) noexcept
    : previous_(std::exchange(tls_current_task, task)) {}

CurrentTaskScope::~CurrentTaskScope() { tls_current_task = previous_; }

bool wait_helping(const std::function<bool()>& ready,
                  const std::function<void(Deadline)>& block_until, Deadline deadline) {
  WaitHelper* helper = tls_wait_helper;
  if (helper == nullptr) {
    block_until(deadline);
    return ready();
  }
  // Between slices the worker looks for queued work; the slice grows while there is
  // none, so a long wait costs few wake-ups.
  constexpr auto kFirstSlice = std::chrono::microseconds(50);
  constexpr auto kLongestSlice = std::chrono::milliseconds(10);
  Clock::duration slice = kFirstSlice;
  while (!ready()) {
    const auto now = Clock::now();
    if (deadline && now >= *deadline) return false;
    if (helper->run_one()) {
      slice = kFirstSlice;
      continue;
    }
    block_until(std::min(now + slice, deadline.value_or(Clock::time_point::max())));
    slice = std::min<Clock::duration>(slice * 2, kLongestSlice);
  }
  return true;
}

std::string describe(const std::exception_ptr& error) {
  if (error == nullptr) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

}  // namespace detail

bool this_task::stop_requested() noexcept {
  const detail::StateBase* task = detail::tls_current_task;
  return task != nullptr && task->stop_requested();
}

}  // namespace v0
}  // namespace concur
