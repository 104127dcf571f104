// as_completed(tasks) for the loop: the tasks in the order they end (Python:
// asyncio.as_completed).
//
//   auto order = concur::as_completed(std::move(tasks), 5s);   // tasks start now
//   while (!order.empty()) {
//     concur::TaskHandle<int> first = co_await order.next();   // the next to end
//     use(first.result());                                      // its value, or rethrows
//   }
//
// next() suspends until one more task has ended and yields its handle (done). Past the
// timeout (counted from as_completed) it raises TimeoutError; the tasks not yet ended
// keep running, as in asyncio. Cancelling the task that waits in next() cancels only
// that wait. InvalidState when next() is called with nothing left.
//
// Lifetime: destroying the CompletionOrder (not while a next() waits) leaves the tasks
// running.
// Thread safety: loop-thread only.
#pragma once

#include <concur/errors.hpp>
#include <concur/loop/detail/wakeup.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/loop/task.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {

template <class T>
class CompletionOrder {
 public:
  CompletionOrder(std::vector<TaskHandle<T>> handles, std::chrono::nanoseconds timeout)
      : state_(std::make_unique<State>()) {
    state_->deadline = detail::deadline_after(timeout);
    state_->timeout = timeout;
    state_->watches.reserve(handles.size());
    for (std::size_t i = 0; i < handles.size(); ++i) {
      state_->watches.push_back(std::make_unique<Watch>(*state_, std::move(handles[i])));
      Watch& watch = *state_->watches.back();
      watch.index = i;
      if (watch.handle.done()) {
        state_->ended.push_back(i);
      } else {
        watch.handle.context().add_joiner(watch);
      }
    }
    state_->remaining = handles.size();
  }
  CompletionOrder(CompletionOrder&&) noexcept = default;
  CompletionOrder& operator=(CompletionOrder&&) noexcept = default;
  ~CompletionOrder() {
    if (!state_) return;
    for (auto& watch : state_->watches) {
      if (!watch->handle.done()) watch->handle.context().remove_joiner(*watch);
    }
  }

  // Tasks not yet handed out by next().
  std::size_t remaining() const noexcept { return state_->remaining; }
  bool empty() const noexcept { return state_->remaining == 0; }

  Task<TaskHandle<T>> next() {
    State& s = *state_;
    if (s.remaining == 0) throw InvalidState("concur::as_completed: every task was handed out already");
    while (s.ended.empty()) {
      if (detail::LoopClock::now() >= s.deadline) throw_timeout(s);
      detail::Wakeup wakeup;
      s.waiter = &wakeup;
      co_await wakeup.wait_until(s.deadline);
      s.waiter = nullptr;
      if (wakeup.state() == detail::Wakeup::State::timed_out) throw_timeout(s);
      wakeup.throw_if_interrupted("concur::as_completed");
    }
    const std::size_t index = s.ended.front();
    s.ended.pop_front();
    --s.remaining;
    co_return s.watches[index]->handle;
  }

 private:
  struct State;
  struct Watch final : detail::JoinWaiter {
    Watch(State& s, TaskHandle<T> h) : state(s), handle(std::move(h)) {}
    void wake() noexcept override {  // the task ended (JoinWaiter)
      state.ended.push_back(index);
      if (state.waiter != nullptr) state.waiter->wake();
    }
    State& state;
    TaskHandle<T> handle;
    std::size_t index = 0;
  };
  struct State {
    std::vector<std::unique_ptr<Watch>> watches;
    std::deque<std::size_t> ended;  // indices of ended tasks, in the order they ended
    std::size_t remaining = 0;
    detail::Wakeup* waiter = nullptr;
    detail::LoopClock::time_point deadline;
    std::chrono::nanoseconds timeout{};
  };
  [[noreturn]] static void throw_timeout(const State& s) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.timeout).count();
    throw TimeoutError("concur::as_completed: " + std::to_string(s.remaining) + " tasks not done after " +
                       std::to_string(ms) + " ms");
  }

  std::unique_ptr<State> state_;
};

template <class T>
CompletionOrder<T> as_completed(std::vector<TaskHandle<T>> handles,
                                std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) {
  return CompletionOrder<T>(std::move(handles), timeout);
}

// Spawns the tasks on the current loop; InvalidState outside a running loop.
template <class T>
CompletionOrder<T> as_completed(std::vector<Task<T>> tasks,
                                std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) {
  std::vector<TaskHandle<T>> handles;
  handles.reserve(tasks.size());
  for (auto& t : tasks) handles.push_back(spawn(std::move(t)));
  return CompletionOrder<T>(std::move(handles), timeout);
}

}  // namespace v0
}  // namespace concur
