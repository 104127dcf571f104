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
// Lifetime: the loop runs the task; the handle is a counted reference to its state,
// which lives in the task's own coroutine frame (a spawned task is one allocation), and
// may outlive both. The frame goes when the task has ended and no handle refers to it.
// Thread safety: loop-thread only.
#pragma once

#include <concur/loop/event_loop.hpp>
#include <concur/loop/task.hpp>

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

// A counted reference to a spawned task (TaskGroup keeps its children so); the task's
// frame holds what it refers to.
class SpawnRef {
 public:
  SpawnRef() noexcept = default;
  explicit SpawnRef(PromiseBase* promise) noexcept : promise_(promise) {
    if (promise_ != nullptr) promise_->task.retain();
  }
  SpawnRef(const SpawnRef& other) noexcept : SpawnRef(other.promise_) {}
  SpawnRef(SpawnRef&& other) noexcept : promise_(std::exchange(other.promise_, nullptr)) {}
  SpawnRef& operator=(SpawnRef other) noexcept {
    std::swap(promise_, other.promise_);
    return *this;
  }
  ~SpawnRef() {
    if (promise_ != nullptr && promise_->task.release()) frame_of(*promise_).destroy();
  }
  // The promise of the Task<T> this refers to.
  template <class T>
  Promise<T>& promise() const noexcept {
    return static_cast<Promise<T>&>(*promise_);
  }
  // The task's state, and its exception once it has ended (null if it succeeded).
  TaskContext& task() const noexcept { return promise_->task; }
  const std::exception_ptr& error() const noexcept { return promise_->error; }
  explicit operator bool() const noexcept { return promise_ != nullptr; }

 private:
  PromiseBase* promise_ = nullptr;
};

// Awaits a spawned task. When the awaiting task is cancelled meanwhile: with
// `propagate_cancel` the awaited task is cancelled too and waited for (asyncio's
// `await task`); without, it is left running and CancelledError is raised at once
// (asyncio.shield).
template <class T>
class JoinAwaiter final : JoinWaiter, Interruptible {
 public:
  JoinAwaiter(Promise<T>& promise, bool propagate_cancel)
      : reference_(&promise), propagate_cancel_(propagate_cancel) {}

  bool await_ready() const noexcept { return reference_.task().done; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    context_ = &context_of(handle);
    if (context_->take_pending_cancel()) {
      cancel_me_ = true;
      if (!propagate_cancel_) return false;
      reference_.task().cancel();
      if (reference_.task().done) return false;
    }
    waiter_ = handle;
    reference_.task().add_joiner(*this);
    if (!cancel_me_) context_->waiting_on = this;
    return true;
  }
  T await_resume() {
    if (cancel_me_ || (context_ != nullptr && context_->take_pending_cancel())) throw CancelledError();
    if (reference_.error()) std::rethrow_exception(reference_.error());
    if constexpr (!std::is_void_v<T>) return reference_.promise<T>().stored_value();
  }

 private:
  void wake() noexcept override {
    if (context_->waiting_on == this) context_->waiting_on = nullptr;
    context_->loop->call_soon(waiter_);
  }
  void interrupt() noexcept override {
    cancel_me_ = true;
    if (propagate_cancel_) {  // cancel the awaited task, as asyncio; resume when it ends
      reference_.task().cancel();
      return;
    }
    reference_.task().remove_joiner(*this);
    context_->loop->call_soon(waiter_);
  }

  SpawnRef reference_;  // keeps the task's frame while this waits
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
  explicit TaskHandle(detail::Promise<T>& promise) noexcept : reference_(&promise) {}

  bool done() const noexcept { return reference_ && reference_.task().done; }
  // Requests cancellation; false when the task has already ended.
  bool cancel() noexcept { return reference_ && reference_.task().cancel(); }
  // The task ended by CancelledError.
  bool cancelled() const {
    if (!done() || !reference_.error()) return false;
    try {
      std::rethrow_exception(reference_.error());
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  // After done(): the value, or rethrows. InvalidState before.
  T result() const {
    if (!done()) throw InvalidState("concur::TaskHandle::result: the task has not ended");
    if (reference_.error()) std::rethrow_exception(reference_.error());
    if constexpr (!std::is_void_v<T>) return promise().stored_value();
  }

  auto operator co_await() const {
    if (!reference_) throw InvalidState("concur::TaskHandle: awaiting an empty handle");
    return detail::JoinAwaiter<T>(promise(), /*propagate_cancel=*/true);
  }

  explicit operator bool() const noexcept { return static_cast<bool>(reference_); }
  // For the loop: the task's promise (its state, value and exception), and a counted
  // reference to it.
  detail::Promise<T>& promise() const noexcept { return reference_.promise<T>(); }
  detail::TaskContext& context() const noexcept { return reference_.task(); }
  detail::SpawnRef reference() const noexcept { return reference_; }

 private:
  detail::SpawnRef reference_;
};

// Starts `task` on `loop` (on its next turn). InvalidState for an empty Task.
template <class T>
TaskHandle<T> spawn_on(EventLoop& loop, Task<T> task) {
  if (!task) throw InvalidState("concur::spawn: an empty Task (moved from, or already run)");
  const std::coroutine_handle<detail::Promise<T>> frame = task.release();
  detail::TaskContext& context = frame.promise().become_task(loop);
  TaskHandle<T> handle(frame.promise());
  loop.adopt_task(context);
  try {
    loop.call_soon(frame);
  } catch (...) {  // no memory to queue it: it never runs
    loop.forget_task(context);
    context.done = true;  // the handle's release destroys the frame
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
  start_sigint_watch(handle.context());
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
