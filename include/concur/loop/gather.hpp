// gather and wait_for (Python: asyncio.gather, asyncio.wait_for).
//
//   auto [a, b] = co_await concur::gather(fetch(x), parse(y));        // a tuple
//   std::vector<int> all = co_await concur::gather(std::move(tasks));  // input order
//   auto outcomes = co_await concur::gather(std::move(tasks), concur::return_exceptions);
//   int v = co_await concur::wait_for(slow(), 2s);                      // TimeoutError
//
// gather runs its tasks concurrently and yields their values in input order. The first
// exception propagates at once and the other tasks go on running (as asyncio); with
// return_exceptions every outcome is collected (Outcome<T>: a value or an exception).
// Cancelling the gathering task cancels every task it gathers.
// wait_for: past the timeout the task is cancelled, waited for, and TimeoutError is
// raised; cancelling the waiting task cancels the inner one.
// Thread safety: loop-thread only. void results are std::monostate.
#pragma once

#include <concur/core/map.hpp>
#include <concur/errors.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/loop/task.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {

// One task's outcome: its value or its exception.
template <class T>
class Outcome {
 public:
  explicit Outcome(detail::MapValue<T> value) : value_(std::move(value)) {}
  explicit Outcome(std::exception_ptr error) : error_(std::move(error)) {}
  bool ok() const noexcept { return error_ == nullptr; }
  std::exception_ptr error() const noexcept { return error_; }
  // The value, or rethrows the exception.
  detail::MapValue<T>& get() {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }

 private:
  std::optional<detail::MapValue<T>> value_;
  std::exception_ptr error_;
};

struct ReturnExceptions {};
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

// Inside a catch block after `co_await h`: whether the exception is h's own (h failed or
// was cancelled) rather than the awaiting task being cancelled.
template <class T>
bool rethrown_from(const TaskHandle<T>& h) {
  return h.done() && h.promise().error != nullptr && h.promise().error == std::current_exception();
}

template <class T>
Task<MapValue<T>> value_of(TaskHandle<T>& h) {
  if constexpr (std::is_void_v<T>) {
    co_await h;
    co_return MapValue<T>{};
  } else {
    co_return co_await h;
  }
}

template <class T>
Task<std::vector<MapValue<T>>> gather_values(std::vector<TaskHandle<T>> handles) {
  std::vector<MapValue<T>> values;
  values.reserve(handles.size());
  for (auto& h : handles) {
    bool we_were_cancelled = false;
    try {
      values.push_back(co_await value_of(h));
    } catch (const CancelledError&) {
      we_were_cancelled = !rethrown_from(h);
      if (!we_were_cancelled) throw;  // a gathered task was cancelled: the others go on
    }
    if (we_were_cancelled) {
      for (auto& other : handles) other.cancel();
      throw CancelledError();
    }
  }
  co_return values;
}

// Waits for every handle to end; cancels them all if this task is cancelled meanwhile.
template <class T>
Task<std::vector<Outcome<T>>> gather_outcomes(std::vector<TaskHandle<T>> handles) {
  std::vector<Outcome<T>> outcomes;
  outcomes.reserve(handles.size());
  for (auto& h : handles) {
    bool we_were_cancelled = false;
    try {
      outcomes.emplace_back(co_await value_of(h));
    } catch (...) {
      if (rethrown_from(h)) {
        outcomes.emplace_back(std::current_exception());
      } else {
        we_were_cancelled = true;
      }
    }
    if (we_were_cancelled) {
      for (auto& other : handles) other.cancel();
      throw CancelledError();
    }
  }
  co_return outcomes;
}

template <class... T, std::size_t... I>
Task<std::tuple<MapValue<T>...>> gather_tuple(std::tuple<TaskHandle<T>...> handles, std::index_sequence<I...>) {
  std::tuple<std::optional<MapValue<T>>...> values;
  bool we_were_cancelled = false;
  try {
    ((std::get<I>(values).emplace(co_await value_of(std::get<I>(handles)))), ...);
  } catch (const CancelledError&) {
    we_were_cancelled = !(rethrown_from(std::get<I>(handles)) || ...);
    if (!we_were_cancelled) throw;
  }
  if (we_were_cancelled) {
    (std::get<I>(handles).cancel(), ...);
    throw CancelledError();
  }
  co_return std::tuple<MapValue<T>...>(std::move(*std::get<I>(values))...);
}

}  // namespace detail

template <class T>
Task<std::vector<detail::MapValue<T>>> gather(std::vector<Task<T>> tasks) {
  std::vector<TaskHandle<T>> handles;
  handles.reserve(tasks.size());
  for (auto& t : tasks) handles.push_back(spawn(std::move(t)));
  return detail::gather_values(std::move(handles));
}

template <class T>
Task<std::vector<Outcome<T>>> gather(std::vector<Task<T>> tasks, ReturnExceptions) {
  std::vector<TaskHandle<T>> handles;
  handles.reserve(tasks.size());
  for (auto& t : tasks) handles.push_back(spawn(std::move(t)));
  return detail::gather_outcomes(std::move(handles));
}

template <class... T>
  requires(sizeof...(T) >= 1)
Task<std::tuple<detail::MapValue<T>...>> gather(Task<T>... tasks) {
  return detail::gather_tuple(std::tuple<TaskHandle<T>...>{spawn(std::move(tasks))...},
                              std::index_sequence_for<T...>{});
}

template <class T, class Rep, class Period>
Task<T> wait_for(Task<T> task, std::chrono::duration<Rep, Period> timeout) {
  auto inner = spawn(std::move(task));
  bool timed_out = false;
  auto timer = spawn([](TaskHandle<T> victim, std::chrono::duration<Rep, Period> d, bool& flag) -> Task<void> {
    co_await sleep(d);
    flag = true;
    victim.cancel();
  }(inner, timeout, timed_out));
  try {
    if constexpr (std::is_void_v<T>) {
      co_await inner;
      timer.cancel();
      co_return;
    } else {
      T value = co_await inner;
      timer.cancel();
      co_return value;
    }
  } catch (const CancelledError&) {
    timer.cancel();
    if (timed_out && inner.cancelled()) {
      throw TimeoutError("concur::wait_for: the task did not finish within " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                         " ms");
    }
    throw;
  } catch (...) {
    timer.cancel();
    throw;
  }
}

}  // namespace v0
}  // namespace concur
