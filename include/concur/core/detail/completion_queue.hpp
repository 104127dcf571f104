// Watches a set of states and hands out their indices in completion order. Shared by
// wait() and as_completed(). The callbacks it registers hold it weakly: a queue dropped
// early (a timeout, a loop left with break) costs nothing more.
//
// Thread safety: pop_until is called by one thread; completions arrive from any.
#pragma once

#include <concur/core/detail/mutex.hpp>
#include <concur/core/detail/shared_state.hpp>
#include <concur/export.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <span>

namespace concur {
inline namespace v0 {
namespace detail {

class CONCUR_EXPORT CompletionQueue {
 public:
  // Registers a callback on each state; already-ready ones are queued at once, in
  // the order given.
  static std::shared_ptr<CompletionQueue> watch(std::span<StateBase* const> states);

  // The index of the next completed state, or nothing when the deadline passed first.
  // On an executor's worker, runs queued work while it waits.
  std::optional<std::size_t> pop_until(Deadline deadline);

  void push(std::size_t index);

 private:
  Mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::size_t> completed_ CONCUR_GUARDED_BY(mutex_);
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
