// as_completed(): the futures in the order they finish (Python:
// concurrent.futures.as_completed).
//
//   for (Future<int> f : as_completed(futures, 5s)) use(f.get());
//
// Futures already done come first, in input order; a future given twice is yielded
// once. With a timeout, the deadline counts from the call, and advancing past it throws
// TimeoutError naming how many futures were unfinished. On an executor's worker, runs
// queued work while it waits.
//
// Lifetime: the range is single-pass and not movable once iteration began; begin() may
// be called once. Thread safety: one thread iterates.
#pragma once

#include <concur/core/detail/completion_queue.hpp>
#include <concur/core/future.hpp>
#include <concur/core/wait.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace concur {
inline namespace v0 {

template <class T>
class AsCompleted {
 public:
  class iterator {
   public:
    using value_type = Future<T>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    const Future<T>& operator*() const { return owner_->current_; }
    const Future<T>* operator->() const { return &owner_->current_; }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return owner_->exhausted_; }

   private:
    friend class AsCompleted;
    explicit iterator(AsCompleted* owner) : owner_(owner) {}
    AsCompleted* owner_ = nullptr;
  };

  AsCompleted(std::vector<Future<T>> futures, detail::Deadline deadline)
      : futures_(std::move(futures)), deadline_(deadline) {
    std::unordered_set<const detail::StateBase*> seen;
    std::vector<Future<T>> unique;
    for (auto& f : futures_) {
      if (seen.insert(detail::FutureAccess::state(f)).second) unique.push_back(std::move(f));
    }
    futures_ = std::move(unique);
    queue_ = detail::CompletionQueue::watch(detail::states_of(futures_));
  }

  // Waits for the first future to finish.
  iterator begin() {
    advance();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  void advance() {
    if (yielded_ == futures_.size()) {
      exhausted_ = true;
      current_ = Future<T>();
      return;
    }
    const auto index = queue_->pop_until(deadline_);
    if (!index) {
      throw TimeoutError(std::to_string(futures_.size() - yielded_) + " (of " +
                         std::to_string(futures_.size()) + ") futures unfinished");
    }
    current_ = futures_[*index];
    ++yielded_;
  }

  std::vector<Future<T>> futures_;
  detail::Deadline deadline_;
  std::shared_ptr<detail::CompletionQueue> queue_;
  Future<T> current_;
  std::size_t yielded_ = 0;
  bool exhausted_ = false;
};

// `futures` is any range of Future<T>.
template <std::ranges::input_range R>
AsCompleted<detail::FutureValue<R>> as_completed(
    const R& futures, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  using T = detail::FutureValue<R>;
  return AsCompleted<T>(std::vector<Future<T>>(std::ranges::begin(futures),
                                               std::ranges::end(futures)),
                        detail::deadline_after(timeout));
}

}  // namespace v0
}  // namespace concur
