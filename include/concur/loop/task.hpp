// Task<T>: a lazily started coroutine, the unit of work of concur's event loop (Python:
// a coroutine function's coroutine object).
//
//   concur::Task<int> answer() { co_await concur::sleep(10ms); co_return 42; }
//   concur::Task<int> twice() { co_return 2 * co_await answer(); }
//   int x = concur::run(twice());                          // 84
//
// A Task starts when it is awaited (or handed to run / spawn) and resumes its awaiter
// when it ends, by symmetric transfer: a chain of a million nested co_awaits uses no
// more stack than one. An exception leaving the coroutine is rethrown by co_await.
//
// Cancellation follows asyncio: every Task runs on behalf of one *task* (what spawn or
// run started: its TaskContext). Cancelling that task resumes it at the suspension point
// it waits on, where co_await throws CancelledError; destructors and catch blocks run,
// and the coroutine may catch it and go on or rethrow. A cancel that arrives while the
// task is not suspended is delivered at its next suspension point.
//
// Lifetime: a Task owns its coroutine frame (move-only); destroying a Task that has not
// run destroys the frame without running it.
// Thread safety: a Task and everything it awaits belong to the loop thread that runs it.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace concur {
inline namespace v0 {

class EventLoop;

namespace detail {

// Something a suspended task waits on that can be interrupted: cancel() arranges for
// the waiting coroutine to be resumed soon; its await_resume then throws CancelledError.
class Interruptible {
 public:
  virtual void interrupt() noexcept = 0;

 protected:
  virtual ~Interruptible() = default;
};

// Something waiting for a task to end (an awaiting task, a TaskGroup, as_completed). It
// sits in the task's list from add_joiner until the task ends (then it is woken and
// unlinked) or until remove_joiner: linked exactly while the task has not ended.
class JoinWaiter {
 public:
  virtual void wake() noexcept = 0;
  JoinWaiter* prev_joiner = nullptr;  // the task's list, newest first
  JoinWaiter* next_joiner = nullptr;

 protected:
  virtual ~JoinWaiter() = default;
};

// The state of one task (asyncio.Task): its loop, its cancellation and, for a spawned
// task, who waits for it and who refers to it. Every Task's promise holds one; it is in
// use when the Task runs as a task of its own (spawn), so a spawned task costs one
// allocation, its coroutine frame. The Tasks it awaits point to it.
struct TaskContext {
  EventLoop* loop = nullptr;
  Interruptible* waiting_on = nullptr;  // the interruptible awaiter it is suspended on
  bool cancel_pending = false;          // a cancel not yet delivered
  bool done = false;
  std::uint32_t references = 0;         // TaskHandles and other counted references
  JoinWaiter* joiners = nullptr;        // newest first; woken oldest first
  TaskContext* prev = nullptr;          // the loop's list of live tasks
  TaskContext* next = nullptr;

  // Returns false when the task has already ended.
  bool cancel() noexcept {
    if (done) return false;
    if (waiting_on != nullptr) {
      Interruptible* target = std::exchange(waiting_on, nullptr);
      target->interrupt();
    } else {
      cancel_pending = true;
    }
    return true;
  }
  // Called by an interruptible awaiter before it suspends: true when a pending cancel
  // must be delivered now instead (the awaiter then does not suspend and throws).
  bool take_pending_cancel() noexcept { return std::exchange(cancel_pending, false); }

  // Before the task ends only.
  void add_joiner(JoinWaiter& joiner) noexcept {
    joiner.prev_joiner = nullptr;
    joiner.next_joiner = joiners;
    if (joiners != nullptr) joiners->prev_joiner = &joiner;
    joiners = &joiner;
  }
  // A joiner that stops waiting before the task ends.
  void remove_joiner(JoinWaiter& joiner) noexcept {
    if (joiner.prev_joiner != nullptr) {
      joiner.prev_joiner->next_joiner = joiner.next_joiner;
    } else if (joiners == &joiner) {
      joiners = joiner.next_joiner;
    }
    if (joiner.next_joiner != nullptr) joiner.next_joiner->prev_joiner = joiner.prev_joiner;
    joiner.prev_joiner = joiner.next_joiner = nullptr;
  }

  // Counted references to a spawned task: the frame goes when the task has ended and
  // the last reference is dropped. release() is true when the caller must destroy it.
  void retain() noexcept { ++references; }
  [[nodiscard]] bool release() noexcept { return --references == 0 && done; }
};

class PromiseBase {
 public:
  PromiseBase() noexcept {}  // user-provided: a union member (TaskContext) has a non-trivial one
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalTransfer;
  FinalTransfer final_suspend() noexcept;
  void unhandled_exception() noexcept { error = std::current_exception(); }

  // Makes this coroutine a task of its own (spawn): its context is its own.
  TaskContext& become_task(EventLoop& loop) noexcept {
    context = std::construct_at(&task);
    task.loop = &loop;
    return task;
  }
  bool spawned() const noexcept { return context == &task; }

  TaskContext* context = nullptr;  // the task this coroutine runs for
  std::exception_ptr error;
  // An awaited coroutine needs only its awaiter, a spawned one only its own task state,
  // so they share the room (spawned() tells which is in use): a sleeping spawned task
  // is one frame of 152 bytes with g++ 12 (see docs/design.md).
  union {
    std::coroutine_handle<> continuation{};  // awaited: who resumes when it ends
    TaskContext task;                        // spawned: its state
  };
};

// The frame of the coroutine whose promise is `promise`, whatever its Promise<T>: what
// std::coroutine_handle<Promise<T>>::from_promise computes, with T erased, so that a
// spawned task need not store its own handle. GCC and Clang (the compilers concur
// supports) place the promise right after the frame's resume and destroy pointers,
// rounded up to the promise's alignment; Promise<T> asserts that this keeps it at the
// same offset as PromiseBase, and a test checks frame_of against from_promise.
inline std::coroutine_handle<> frame_of(PromiseBase& promise) noexcept {
  return std::coroutine_handle<>::from_address(
      __builtin_coro_promise(static_cast<void*>(&promise), alignof(PromiseBase), true));
}

// Ends a spawned task (from its final suspend): marks it done, wakes its joiners oldest
// first, leaves the loop's list, and destroys the frame when nothing refers to it.
CONCUR_EXPORT void end_spawned_task(PromiseBase& promise) noexcept;

// At a Task's end: resumes its awaiter, or ends the spawned task. Empty, so it takes no
// room in the frame.
struct PromiseBase::FinalTransfer {
  bool await_ready() noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
    PromiseBase& promise = self.promise();
    if (promise.spawned()) {
      end_spawned_task(promise);  // may free the frame
      return std::noop_coroutine();
    }
    return promise.continuation ? promise.continuation : std::noop_coroutine();
  }
  void await_resume() noexcept {}
};
inline PromiseBase::FinalTransfer PromiseBase::final_suspend() noexcept { return {}; }

template <class T>
class Promise;

template <class T>
struct TaskAwaiter {
  std::coroutine_handle<Promise<T>> child;
  bool await_ready() const noexcept { return !child || child.done(); }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    child.promise().context = parent.promise().context;
    child.promise().continuation = parent;
    return child;
  }
  T await_resume();
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;

  Task() noexcept = default;
  explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  // co_await task: runs it in the awaiting task's context, then yields its value.
  auto operator co_await() && noexcept { return detail::TaskAwaiter<T>{handle_}; }

  // For spawn: gives up the frame (the spawned task then owns itself).
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(handle_, {}); }

 private:
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
class Promise : public PromiseBase {
  static_assert(alignof(T) <= 2 * sizeof(void*),
                "concur::Task<T>: T's alignment is larger than the coroutine frame's header "
                "(16 bytes); return it boxed (e.g. in a std::unique_ptr)");

 public:
  Task<T> get_return_object() noexcept { return Task<T>(std::coroutine_handle<Promise>::from_promise(*this)); }
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }
  T result() {
    if (error) std::rethrow_exception(error);
    return std::move(*value_);
  }
  // A spawned task's value, which every awaiter of its handle copies.
  const T& stored_value() const { return *value_; }

 private:
  std::optional<T> value_;
};

template <>
class Promise<void> : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<Promise>::from_promise(*this));
  }
  void return_void() noexcept {}
  void result() {
    if (error) std::rethrow_exception(error);
  }
};

template <class T>
T TaskAwaiter<T>::await_resume() {
  if (!child) throw InvalidState("concur::Task: awaiting an empty task");
  return child.promise().result();
}

// The context of the coroutine behind `handle` (a concur Task's or a loop driver's).
template <class P>
TaskContext& context_of(std::coroutine_handle<P> handle) {
  static_assert(std::is_base_of_v<PromiseBase, P>,
                "concur: this awaitable can only be awaited from a concur::Task");
  return *handle.promise().context;
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
