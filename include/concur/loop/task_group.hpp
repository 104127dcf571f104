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

#include <deque>
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
    for (Child& child : children_) {
      child.stop_watching();
      (void)child.task().cancel();
    }
  }

  // Starts `task` in the group. InvalidState once join() has returned.
  template <class T>
  TaskHandle<T> spawn(Task<T> task) {
    if (joined_) throw InvalidState("concur::TaskGroup: spawn after join() returned");
    TaskHandle<T> handle = concur::spawn(std::move(task));
    Child& child = children_.emplace_back(*this, handle.reference());
    child.task().add_joiner(child);  // the group's watch, before any awaiter's
    if (failed_) (void)child.task().cancel();  // a failing group starts nothing new
    return handle;
  }

  Task<void> join();

  std::size_t size() const noexcept { return children_.size(); }

 private:
  class ChildDone;

  // A child and the group's watch on it: woken first when the child ends (it joined
  // the child's waiters first), it cancels the siblings on a failure.
  class Child final : public detail::JoinWaiter {
   public:
    Child(TaskGroup& group, detail::SpawnRef reference) noexcept : group_(group), reference_(std::move(reference)) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    detail::TaskContext& task() const noexcept { return reference_.task(); }
    const std::exception_ptr& error() const noexcept { return reference_.error(); }
    void stop_watching() noexcept {
      if (!task().done) task().remove_joiner(*this);
    }

   private:
    void wake() noexcept override {
      if (!error() || is_cancellation(error()) || group_.failed_) return;
      group_.failed_ = true;
      group_.cancel_all();
    }
    TaskGroup& group_;
    detail::SpawnRef reference_;
  };

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
    for (Child& child : children_) (void)child.task().cancel();
  }

  std::deque<Child> children_;  // a deque: the watches stay where they are
  bool failed_ = false;
  bool joined_ = false;
};

// Waits for one child without rethrowing its outcome; if the joining task is cancelled,
// cancels the whole group and goes on waiting.
class TaskGroup::ChildDone final : detail::JoinWaiter, detail::Interruptible {
 public:
  ChildDone(TaskGroup& group, detail::TaskContext& child) : group_(group), child_(child) {}
  bool await_ready() const noexcept { return child_.done; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> handle) {
    context_ = &detail::context_of(handle);
    waiter_ = handle;
    child_.add_joiner(*this);
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
  detail::TaskContext& child_;
  detail::TaskContext* context_ = nullptr;
  std::coroutine_handle<> waiter_;
  bool cancelled_ = false;
};

inline Task<void> TaskGroup::join() {
  bool cancelled = false;
  for (std::size_t i = 0; i < children_.size(); ++i) {  // children_ may grow meanwhile
    if (co_await ChildDone(*this, children_[i].task())) cancelled = true;
  }
  joined_ = true;
  if (cancelled) throw CancelledError();
  std::vector<std::exception_ptr> failures;
  for (const Child& child : children_) {
    if (child.error() && !is_cancellation(child.error())) failures.push_back(child.error());
  }
  if (failures.empty()) co_return;
  throw ExceptionGroup("concur::TaskGroup", children_.size(), "tasks", std::move(failures));
}

}  // namespace v0
}  // namespace concur
