// TaskGroup: structured concurrency for tasks (Python: asyncio.TaskGroup).
//
//   concur::TaskGroup group;
//   auto a = group.spawn(fetch(x));
//   auto b = group.spawn(fetch(y));
//   co_await group.join();          // both done; or ExceptionGroup of what failed
//
// join() waits for every task of the group, including tasks spawned while it waits.
// The first task that fails (any exception but CancelledError) cancels the others at
// once; join then raises ExceptionGroup with every failure, in the order the tasks were
// spawned. Cancelling the task that joins cancels the whole group, waits for it, and
// raises CancelledError.
//
// Lifetime: C++ has no asynchronous destructor, so call join(). Destroying a group that
// was not joined cancels its tasks (they unwind on the loop). Thread safety: loop-thread
// only.
#pragma once

#include <concur/errors.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/loop/task.hpp>

#include <string>
#include <vector>

namespace concur {
inline namespace v0 {

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup() {
    for (auto& child : children_) {
      child->on_done = nullptr;
      (void)child->context.cancel();
    }
  }

  // Starts `task` in the group. InvalidState once join() has returned.
  template <class T>
  TaskHandle<T> spawn(Task<T> task) {
    if (joined_) throw InvalidState("concur::TaskGroup: spawn after join() returned");
    TaskHandle<T> handle = concur::spawn(std::move(task));
    detail::SpawnRef state = handle.reference();
    state->on_done = &TaskGroup::on_child_done;
    state->on_done_argument = this;
    children_.push_back(std::move(state));
    if (failed_) (void)children_.back()->context.cancel();  // a failing group starts nothing new
    return handle;
  }

  Task<void> join();

  std::size_t size() const noexcept { return children_.size(); }

 private:
  class ChildDone;

  static void on_child_done(detail::SpawnStateBase& child, void* self) noexcept {
    auto& group = *static_cast<TaskGroup*>(self);
    if (!child.error || is_cancellation(child.error)) return;
    if (!group.failed_) {
      group.failed_ = true;
      group.cancel_all();
    }
  }
  static bool is_cancellation(const std::exception_ptr& error) noexcept {
    try {
      std::rethrow_exception(error);
    } catch (const CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  void cancel_all() noexcept {
    for (auto& child : children_) (void)child->context.cancel();
  }

  std::vector<detail::SpawnRef> children_;
  bool failed_ = false;
  bool joined_ = false;
};

// Waits for one child without rethrowing its outcome; if the joining task is cancelled,
// cancels the whole group and goes on waiting.
class TaskGroup::ChildDone final : detail::JoinWaiter, detail::Interruptible {
 public:
  ChildDone(TaskGroup& group, detail::SpawnStateBase& child) : group_(group), child_(child) {}
  bool await_ready() const noexcept { return child_.done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> handle) {
    context_ = &detail::context_of(handle);
    waiter_ = handle;
    child_.joiners.push_back(this);
    if (context_->take_pending_cancel()) {
      cancelled_ = true;
      group_.cancel_all();
    } else {
      context_->waiting_on = this;
    }
  }
  bool await_resume() const noexcept { return cancelled_; }  // true: the joiner was cancelled

 private:
  void wake() noexcept override {
    if (context_->waiting_on == this) context_->waiting_on = nullptr;
    context_->loop->call_soon(waiter_);
  }
  void interrupt() noexcept override {
    cancelled_ = true;
    group_.cancel_all();  // keep waiting: the child ends soon
  }

  TaskGroup& group_;
  detail::SpawnStateBase& child_;
  detail::TaskContext* context_ = nullptr;
  std::coroutine_handle<> waiter_;
  bool cancelled_ = false;
};

inline Task<void> TaskGroup::join() {
  bool cancelled = false;
  for (std::size_t i = 0; i < children_.size(); ++i) {  // children_ may grow meanwhile
    if (co_await ChildDone(*this, *children_[i])) cancelled = true;
  }
  joined_ = true;
  for (auto& child : children_) child->on_done = nullptr;
  if (cancelled) throw CancelledError();
  std::vector<std::exception_ptr> failures;
  for (auto& child : children_) {
    if (child->error && !is_cancellation(child->error)) failures.push_back(child->error);
  }
  if (failures.empty()) co_return;
  throw ExceptionGroup("concur::TaskGroup", children_.size(), "tasks", std::move(failures));
}

}  // namespace v0
}  // namespace concur
