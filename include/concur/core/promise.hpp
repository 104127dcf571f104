// Promise<T>: the producing side of a Future, for results made outside executors
// (callbacks of C libraries, the event loop, hand-rolled workers).
//
// Lifetime: a Promise destroyed without a result fails its future with InvalidState, so
// no waiter hangs. Setting a result on a cancelled future drops it (cancellation won).
// Thread safety: one Promise object is used by one thread at a time; its futures may be
// used anywhere. Setting twice throws InvalidState.
#pragma once

#include <concur/core/future.hpp>

#include <utility>

namespace concur {
inline namespace v0 {

template <class T>
class Promise {
 public:
  Promise() : state_(new detail::State<T>(1)) {}
  Promise(Promise&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  ~Promise() { abandon(); }

  // Any number of futures may be taken; all share the result.
  Future<T> get_future() const {
    checked().retain();
    return detail::FutureAccess::adopt(state_);
  }

  template <class... Args>
  void set_value(Args&&... args) {
    if (!claim()) return;
    if constexpr (!std::is_void_v<T>) {
      try {
        state_->value.emplace(std::forward<Args>(args)...);
      } catch (...) {
        state_->finish_with_exception(std::current_exception());  // no waiter hangs
        throw;
      }
    } else {
      static_assert(sizeof...(Args) == 0, "Promise<void>::set_value takes no argument");
    }
    state_->finish_with_value();
  }

  void set_exception(std::exception_ptr error) {
    if (error == nullptr) throw InvalidState("Promise::set_exception: null exception_ptr");
    if (claim()) state_->finish_with_exception(std::move(error));
  }

  // True once a future of this promise was cancelled.
  bool cancelled() const { return checked().phase() == detail::Phase::cancelled; }

 private:
  detail::State<T>& checked() const {
    if (state_ == nullptr) throw InvalidState("concur::Promise is moved-from");
    return *state_;
  }
  // True if this call may set the result; false if the future was cancelled.
  bool claim() {
    if (checked().try_start()) return true;
    if (state_->phase() == detail::Phase::cancelled) return false;
    throw InvalidState("concur::Promise already has a result");
  }
  void abandon() noexcept {
    if (state_ == nullptr) return;
    if (state_->try_start()) {
      state_->finish_with_exception(std::make_exception_ptr(
          InvalidState("concur::Promise destroyed before it set a result")));
    }
    state_->release();
    state_ = nullptr;
  }

  detail::State<T>* state_;
};

}  // namespace v0
}  // namespace concur
