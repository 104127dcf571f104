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
// Lifetime: the loop owns the running task; the handle is a shared reference to its
// state and may outlive both. Thread safety: loop-thread only.
#pragma once

#include <concur/core/map.hpp>
#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <coroutine>
#include <exception>
#include <memory>
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

// The coroutine that runs a spawned task at the top of its own context and records how
// it ended. It destroys itself at its end.
struct Driver {
  struct promise_type : PromiseBase {
    Driver get_return_object() noexcept { return Driver{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
  };
  std::coroutine_handle<promise_type> handle;
};

CONCUR_EXPORT void finish_spawned(SpawnStateBase& state) noexcept;

template <class T>
Driver drive(Task<T> task, std::shared_ptr<SpawnState<T>> state) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      state->value.emplace();
    } else {
      state->value.emplace(co_await std::move(task));
    }
  } catch (...) {
    state->error = std::current_exception();
  }
  finish_spawned(*state);
}

// Awaits a spawned task. When the awaiting task is cancelled meanwhile: with
// `propagate_cancel` the awaited task is cancelled too and waited for (asyncio's
// `await task`); without, it is left running and CancelledError is raised at once
// (asyncio.shield).
template <class T>
class JoinAwaiter final : JoinWaiter, Interruptible {
 public:
  JoinAwaiter(std::shared_ptr<SpawnState<T>> state, bool propagate_cancel)
      : state_(std::move(state)), propagate_cancel_(propagate_cancel) {}

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

  std::shared_ptr<SpawnState<T>> state_;
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
  explicit TaskHandle(std::shared_ptr<detail::SpawnState<T>> state) : state_(std::move(state)) {}

  bool done() const noexcept { return state_ && state_->done(); }
  // Requests cancellation; false when the task has already ended.
  bool cancel() noexcept { return state_ && state_->context.cancel(); }
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
    if (!state_) throw InvalidState("concur::TaskHandle: awaiting an empty handle");
    return detail::JoinAwaiter<T>(state_, /*propagate_cancel=*/true);
  }

  // For the loop: the shared state.
  detail::SpawnState<T>& state() const { return *state_; }
  std::shared_ptr<detail::SpawnStateBase> shared_state() const { return state_; }

 private:
  std::shared_ptr<detail::SpawnState<T>> state_;
};

// Starts `task` on `loop` (on its next turn).
template <class T>
TaskHandle<T> spawn_on(EventLoop& loop, Task<T> task) {
  auto state = std::make_shared<detail::SpawnState<T>>();
  state->context.loop = &loop;
  detail::Driver driver = detail::drive(std::move(task), state);
  driver.handle.promise().context = &state->context;
  loop.adopt_task(*state);
  loop.call_soon(driver.handle);
  return TaskHandle<T>(std::move(state));
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
