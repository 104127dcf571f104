// wait(): block until some or all of a set of futures are done (Python:
// concurrent.futures.wait).
//
// Returns the futures split into done and not done, each in input order; a future given
// twice appears twice (Python uses sets). A timeout does not throw: what is not done is
// in not_done. On an executor's worker, runs queued work while it waits.
#pragma once

#include <concur/core/detail/shared_state.hpp>
#include <concur/core/future.hpp>
#include <concur/export.hpp>

#include <chrono>
#include <optional>
#include <ranges>
#include <span>
#include <vector>

namespace concur {
inline namespace v0 {

enum class ReturnWhen {
  FirstCompleted,  // any future finished or was cancelled
  FirstException,  // any future finished with an exception; else all completed
  AllCompleted,    // every future finished or was cancelled
};

template <class T>
struct DoneAndNotDone {
  std::vector<Future<T>> done;
  std::vector<Future<T>> not_done;
};

namespace detail {
CONCUR_EXPORT void wait_states(std::span<StateBase* const> states, ReturnWhen when,
                               Deadline deadline);

template <class R>
using FutureValue = typename std::ranges::range_value_t<R>::value_type;

inline Deadline deadline_after(std::optional<std::chrono::nanoseconds> timeout) {
  if (!timeout) return std::nullopt;
  return Clock::now() + std::chrono::ceil<Clock::duration>(*timeout);
}

template <class R>
std::vector<StateBase*> states_of(const R& futures) {
  std::vector<StateBase*> states;
  for (const auto& future : futures) states.push_back(FutureAccess::state(future));
  return states;
}
}  // namespace detail

// `futures` is any range of Future<T>; an empty Future in it throws InvalidState.
template <std::ranges::input_range R>
DoneAndNotDone<detail::FutureValue<R>> wait(
    const R& futures, ReturnWhen when = ReturnWhen::AllCompleted,
    std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  const auto deadline = detail::deadline_after(timeout);
  detail::wait_states(detail::states_of(futures), when, deadline);
  DoneAndNotDone<detail::FutureValue<R>> result;
  for (const auto& future : futures) {
    (future.ready() ? result.done : result.not_done).push_back(future);
  }
  return result;
}

}  // namespace v0
}  // namespace concur
