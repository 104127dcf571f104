#include <concur/core/wait.hpp>

#include <concur/core/detail/completion_queue.hpp>

#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

bool failed(const StateBase& s) {
  return s.phase() == Phase::finished && s.error() != nullptr;
}

}  // namespace

void wait_states(std::span<StateBase* const> states, ReturnWhen when, Deadline deadline) {
  if (when == ReturnWhen::AllCompleted) {
    for (StateBase* s : states) {
      if (!s->wait_until(deadline)) return;
    }
    return;
  }
  std::size_t unfinished = 0;
  std::vector<bool> judged(states.size());  // ready before we watched: seen below too
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (!states[i]->ready()) {
      ++unfinished;
    } else if (when == ReturnWhen::FirstCompleted || failed(*states[i])) {
      return;
    } else {
      judged[i] = true;
    }
  }
  if (unfinished == 0) return;
  const auto queue = CompletionQueue::watch(states);
  for (;;) {
    const auto index = queue->pop_until(deadline);
    if (!index) return;
    if (judged[*index]) continue;
    if (when == ReturnWhen::FirstCompleted || failed(*states[*index])) return;
    if (--unfinished == 0) return;
  }
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
