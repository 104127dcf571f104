// spawn(task) -> TaskHandle<T>: runs a Task concurrently on the current loop (Python:
// asyncio.create_task).
//
//   auto handle = concur::spawn(fetch(url));   // starts on the loop's next turn
//   ...                                        // this task goes on meanwhile
//   auto body = co_await handle;               // its value, or its exception
//
// TaskHandle::cancel() cancels the task as asyncio's Task.cancel(): CancelledError is
// raised at its suspension point. A task that awaits a handle and is cancelled cancels
// the awaited task too, waits for it to end, then raises CancelledError (asyncio's
// semantics). A task nobody awaits still runs to its end; its exception is then kept in
// the handle (asyncio logs "exception was never retrieved").
//
// Lifetime: the loop runs the task; the handle is a counted reference to its state
// (kept in the frame of the coroutine that drives the task) and may outlive both.
// Thread safety: loop-thread only.
#pragma once

#include <concur/core/map.hpp>
#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

template <class T>
struct SpawnState final : SpawnStateBase {
  std::optional<MapValue<T>> value;
};

CONCUR_EXPORT void finish_spawned(SpawnStateBase& state) noexcept;

// The coroutine that runs a spawned task at the top of its own context and records how
// it ended. Its promise holds the task's SpawnState; at its end it destroys itself
// unless a TaskHandle still refers to the state (the last one's release does it then).
template <class T>
struct Driver {
  struct promise_type : PromiseBase {
    SpawnState<T> state;
    promise_type() noexcept {
      context = &state.context;
      state.frame = std::coroutine_handle<promise_type>::from_promise(*this);
    }
    Driver get_return_object() noexcept { return Driver{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    auto final_suspend() noexcept {
      struct Finish {
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> self) noexcept {
          SpawnState<T>& s = self.promise().state;
          finish_spawned(s);  // joiners are woken on a later turn, never here
          if (s.references == 0) self.destroy();
        }
        void await_resume() noexcept {}
      };
      return Finish{};
    }
    void return_void() noexcept {}
  };
  std::coroutine_handle<promise_type> handle;
};

// co_await OwnState<T>{} inside drive(): the driver's own SpawnState.
template <class T>
struct OwnState {
  SpawnState<T>* state = nullptr;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<typename Driver<T>::promise_type> self) noexcept {
    state = &self.promise().state;
    return false;  // go on at once
  }
  SpawnState<T>& await_resume() const noexcept { return *state; }
};

template <class T>
Driver<T> drive(Task<T> task) {
  SpawnState<T>& state = co_await OwnState<T>{};
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      state.value.emplace();
    } else {
      state.value.emplace(co_await std::move(task));
    }
  } catch (...) {
    state.error = std::current_exception();
  }
  task = Task<T>();  // the ended task's frame goes now, not with this one
}

// A counted reference to a spawned task's state (TaskGroup keeps its children so).
class SpawnRef {
 public:
  SpawnRef() noexcept = default;
  explicit SpawnRef(SpawnStateBase* state) noexcept : state_(state) {
    if (state_ != nullptr) state_->retain();
  }
  SpawnRef(const SpawnRef& other) noexcept : SpawnRef(other.state_) {}
  SpawnRef(SpawnRef&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  SpawnRef& operator=(SpawnRef other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~SpawnRef() {
    if (state_ != nullptr) state_->release();
  }
  SpawnStateBase* get() const noexcept { return state_; }
  SpawnStateBase* operator->() const noexcept { return state_; }
  SpawnStateBase& operator*() const noexcept { return *state_; }
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  SpawnStateBase* state_ = nullptr;
};

// Awaits a spawned task. When the awaiting task is cancelled meanwhile: with
// `propagate_cancel` the awaited task is cancelled too and waited for (asyncio's
// `await task`); without, it is left running and CancelledError is raised at once
// (asyncio.shield).
template <class T>
class JoinAwaiter final : JoinWaiter, Interruptible {
 public:
  JoinAwaiter(SpawnState<T>& state, bool propagate_cancel)
      : reference_(&state), state_(&state), propagate_cancel_(propagate_cancel) {}

  bool await_ready() const noexcept { return state_->done(); }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    context_ = &context_of(handle);
    if (context_->take_pending_cancel()) {
      cancel_me_ = true;
      if (!propagate_cancel_) return false;
      state_->context.cancel();
      if (state_->done()) return false;
    }
    waiter_ = handle;
    state_->joiners.push_back(this);
    if (!cancel_me_) context_->waiting_on = this;
    return true;
  }
  T await_resume() {
    if (cancel_me_ || (context_ != nullptr && context_->take_pending_cancel())) throw CancelledError();
    if (state_->error) std::rethrow_exception(state_->error);
    if constexpr (!std::is_void_v<T>) return *state_->value;
  }

 private:
  void wake() noexcept override {
    if (context_->waiting_on == this) context_->waiting_on = nullptr;
    context_->loop->call_soon(waiter_);
  }
  void interrupt() noexcept override {
    cancel_me_ = true;
    if (propagate_cancel_) {  // cancel the awaited task, as asyncio; resume when it ends
      state_->context.cancel();
      return;
    }
    std::erase(state_->joiners, static_cast<JoinWaiter*>(this));
    context_->loop->call_soon(waiter_);
  }

  SpawnRef reference_;  // keeps the state while this waits
  SpawnState<T>* state_;
  bool propagate_cancel_;
  TaskContext* context_ = nullptr;
  std::coroutine_handle<> waiter_;
  bool cancel_me_ = false;
};

}  // namespace detail

template <class T>
class TaskHandle {
 public:
  TaskHandle() = default;
  explicit TaskHandle(detail::SpawnState<T>& state) noexcept : reference_(&state), state_(&state) {}

  bool done() const noexcept { return state_ != nullptr && state_->done(); }
  // Requests cancellation; false when the task has already ended.
  bool cancel() noexcept { return state_ != nullptr && state_->context.cancel(); }
  // The task ended by CancelledError.
  bool cancelled() const {
    if (!done() || !state_->error) return false;
    try {
      std::rethrow_exception(state_->error);
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  // After done(): the value, or rethrows. InvalidState before.
  T result() const {
    if (!done()) throw InvalidState("concur::TaskHandle::result: the task has not ended");
    if (state_->error) std::rethrow_exception(state_->error);
    if constexpr (!std::is_void_v<T>) return *state_->value;
  }

  auto operator co_await() const {
    if (state_ == nullptr) throw InvalidState("concur::TaskHandle: awaiting an empty handle");
    return detail::JoinAwaiter<T>(*state_, /*propagate_cancel=*/true);
  }

  explicit operator bool() const noexcept { return state_ != nullptr; }
  // For the loop: the state, and a counted reference to it.
  detail::SpawnState<T>& state() const { return *state_; }
  detail::SpawnRef reference() const noexcept { return reference_; }

 private:
  detail::SpawnRef reference_;
  detail::SpawnState<T>* state_ = nullptr;
};

// Starts `task` on `loop` (on its next turn).
template <class T>
TaskHandle<T> spawn_on(EventLoop& loop, Task<T> task) {
  detail::Driver<T> driver = detail::drive(std::move(task));
  detail::SpawnState<T>& state = driver.handle.promise().state;
  state.context.loop = &loop;
  TaskHandle<T> handle(state);
  loop.adopt_task(state);
  try {
    loop.call_soon(driver.handle);
  } catch (...) {  // no memory to queue it: it never runs
    loop.forget_task(state);
    state.context.done = true;  // the handle's release destroys the frame
    throw;
  }
  return handle;
}

// Starts `task` on the current loop. InvalidState outside a running loop.
template <class T>
TaskHandle<T> spawn(Task<T> task) {
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) throw InvalidState("concur::spawn: no event loop runs on this thread (use concur::run)");
  return spawn_on(*loop, std::move(task));
}

template <class T>
T EventLoop::run_until_complete(Task<T> main) {
  TaskHandle<T> handle = spawn_on(*this, std::move(main));
  start_sigint_watch(handle.state().context);
  try {
    run_until([&] { return handle.done(); });
  } catch (...) {
    stop_sigint_watch();
    throw;
  }
  stop_sigint_watch();
  cancel_remaining_tasks();
  return handle.result();
}

}  // namespace v0
}  // namespace concur
