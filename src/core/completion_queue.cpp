#include <concur/core/detail/completion_queue.hpp>

#include <concur/core/unhandled_exception.hpp>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

class PushIndex final : public Callback {
 public:
  PushIndex(std::weak_ptr<CompletionQueue> queue, std::size_t index)
      : queue_(std::move(queue)), index_(index) {}
  void invoke(StateBase&) noexcept override {
    if (auto queue = queue_.lock()) {
      try {
        queue->push(index_);
      } catch (...) {  // only bad_alloc; the waiter would miss a completion
        report_unhandled_exception(std::current_exception(), "a completion queue");
      }
    }
  }

 private:
  std::weak_ptr<CompletionQueue> queue_;
  std::size_t index_;
};

}  // namespace

std::shared_ptr<CompletionQueue> CompletionQueue::watch(std::span<StateBase* const> states) {
  auto queue = std::make_shared<CompletionQueue>();
  for (std::size_t i = 0; i < states.size(); ++i) {
    states[i]->add_callback(new PushIndex(queue, i));
  }
  return queue;
}

void CompletionQueue::push(std::size_t index) {
  {
    Lock lock(mutex_);
    completed_.push_back(index);
  }
  cv_.notify_one();
}

std::optional<std::size_t> CompletionQueue::pop_until(Deadline deadline) {
  const auto has_one = [this] {
    Lock lock(mutex_);
    return !completed_.empty();
  };
  const auto block = [this](Deadline until) {
    Lock lock(mutex_);
    while (completed_.empty()) {
      if (!until) {
        lock.wait(cv_);
      } else if (!lock.wait_until(cv_, *until)) {
        return;
      }
    }
  };
  if (!wait_helping(has_one, block, deadline)) return std::nullopt;
  Lock lock(mutex_);
  const std::size_t index = completed_.front();
  completed_.pop_front();
  return index;
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
