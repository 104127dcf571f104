// Future<T>: the one result handle of every concur backend (thread, process, loop, MPI).
//
// Mirrors concurrent.futures.Future: get() returns the value or rethrows; cancel()
// succeeds only while the task is pending (a running task gets a stop request that it
// can poll with this_task::stop_requested()); done-callbacks run exactly once.
//
// Lifetime: a Future is a counted reference to a shared state; copies refer to the same
// result. Destroying every Future does not cancel the task.
// Thread safety: all const members may be called concurrently from any thread; a single
// Future object must not be assigned while another thread uses it (like shared_ptr).
// On a worker of an executor, waiting runs other queued work of that executor, so a task
// may wait on futures of its own pool without deadlock.
// Undefined: nothing; using an empty (default-constructed or moved-from) Future throws
// InvalidState.
#pragma once

#include <concur/core/detail/shared_state.hpp>
#include <concur/core/unhandled_exception.hpp>
#include <concur/errors.hpp>

#include <chrono>
#include <exception>
#include <type_traits>
#include <utility>

namespace concur {
inline namespace v0 {

template <class T>
class Future;

namespace detail {
// The one way for concur's own code to reach a Future's state.
struct FutureAccess {
  template <class T>
  static Future<T> adopt(State<T>* state) noexcept {
    return Future<T>(state);
  }
  template <class T>
  static State<T>* state(const Future<T>& future) {
    return &future.state();
  }
  // Moves the value out whoever else holds the state; for consumers that know they
  // are the only reader (map). Waits and rethrows like get().
  template <class T>
  static T take(Future<T>& future) {
    future.wait();
    future.state().check_result();
    return std::move(*future.state().value);
  }
};

template <class C, class D>
Clock::time_point to_steady(const std::chrono::time_point<C, D>& t) {
  if constexpr (std::is_same_v<C, Clock>) {
    return std::chrono::time_point_cast<Clock::duration>(t);
  } else {
    return Clock::now() + std::chrono::ceil<Clock::duration>(t - C::now());
  }
}
}  // namespace detail

template <class T>
class Future {
  static_assert(!std::is_reference_v<T>, "Future<T&> is not supported; use a pointer");

 public:
  using value_type = T;

  Future() noexcept = default;
  Future(const Future& other) noexcept : state_(other.state_) {
    if (state_ != nullptr) state_->retain();
  }
  Future(Future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Future& operator=(Future other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Future() {
    if (state_ != nullptr) state_->release();
  }

  bool valid() const noexcept { return state_ != nullptr; }
  // Finished or cancelled (Python: done()).
  bool ready() const { return state().ready(); }
  bool running() const { return state().phase() == detail::Phase::running; }
  bool cancelled() const { return state().phase() == detail::Phase::cancelled; }

  void wait() const { state().wait_until(std::nullopt); }
  // True when ready before the timeout.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
    return state().wait_until(detail::Clock::now() +
                              std::chrono::ceil<detail::Clock::duration>(timeout));
  }
  template <class C, class D>
  bool wait_until(const std::chrono::time_point<C, D>& deadline) const {
    return state().wait_until(detail::to_steady(deadline));
  }

  // Waits; returns the value (a reference into the shared state), or rethrows the
  // task's exception, or throws CancelledError.
  decltype(auto) get() const& {
    wait();
    state().check_result();
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*state_->value);
  }
  // As above, but returns the value itself: moved out when this Future is its only
  // holder (or T cannot be copied), copied otherwise.
  T get() && {
    wait();
    state().check_result();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (!std::is_copy_constructible_v<T>) {
      return std::move(*state_->value);
    } else {
      if (state_->sole_owner()) return std::move(*state_->value);
      return *state_->value;
    }
  }

  // Waits; null on success, the task's exception on failure; throws CancelledError
  // when cancelled (as Python's exception()).
  std::exception_ptr exception() const {
    wait();
    if (cancelled()) throw CancelledError();
    return state_->error();
  }

  // True if the task is now cancelled (it was pending, or already cancelled); false if
  // it runs (it gets a stop request) or has finished.
  bool cancel() { return state().cancel(); }

  // Calls f(const Future&) or f() once the future is ready: at once on this thread if
  // it already is, otherwise on the thread that finishes or cancels it. What f throws
  // goes to the unhandled-exception handler.
  template <class F>
  void add_done_callback(F&& f) const {
    state().add_callback(new CallbackNode<std::decay_t<F>>(std::forward<F>(f)));
  }

 private:
  friend struct detail::FutureAccess;

  template <class F>
  class CallbackNode final : public detail::Callback {
   public:
    template <class G>
    explicit CallbackNode(G&& fn) : fn_(std::forward<G>(fn)) {}
    void invoke(detail::StateBase& s) noexcept override {
      try {
        s.retain();
        const Future self(static_cast<detail::State<T>*>(&s));
        if constexpr (std::is_invocable_v<F&, const Future&>) {
          fn_(self);
        } else {
          fn_();
        }
      } catch (...) {
        detail::report_unhandled_exception(std::current_exception(),
                                           "a Future done-callback");
      }
    }

   private:
    F fn_;
  };

  explicit Future(detail::State<T>* state) noexcept : state_(state) {}

  detail::State<T>& state() const {
    if (state_ == nullptr) {
      throw InvalidState("concur::Future is empty (default-constructed or moved-from)");
    }
    return *state_;
  }

  detail::State<T>* state_ = nullptr;
};

}  // namespace v0
}  // namespace concur
