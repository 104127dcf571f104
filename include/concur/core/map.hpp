// The ordered, bounded map that every executor returns (detail: executors build it
// from their own submit).
//
// Results come in input order. At most `in_flight` chunks are outstanding: the input is
// read as results are consumed, so an endless input works. A chunk runs its inputs in
// order and stops at the first exception, which is rethrown when the consumer reaches
// that element (the elements before it are delivered; the range then ends). What fails
// while reading the input or submitting (a pool shut down meanwhile) is raised at the
// first element it prevented, after the results already computed. Destroying the range
// early cancels the chunks not yet started and asks running ones to stop.
//
// Lifetime: the range refers to its executor, which must outlive it; it owns an rvalue
// input and refers to an lvalue one. Not copyable or movable; iterate once, from one
// thread.
#pragma once

#include <concur/core/executor.hpp>
#include <concur/core/future.hpp>
#include <concur/core/this_task.hpp>

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

// map over a function returning void yields std::monostate.
template <class T>
using MapValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class Out>
struct MapChunk {
  std::vector<Out> values;
  std::exception_ptr error;  // raised by the input after the last value
};

template <class F, class In>
using MapResult = MapValue<std::invoke_result_t<F&, In&&>>;

// Runs f over a chunk in order; stops at the first exception or a stop request.
template <class F, class In>
MapChunk<MapResult<F, In>> run_chunk(F& f, std::vector<In>& inputs) {
  MapChunk<MapResult<F, In>> chunk;
  chunk.values.reserve(inputs.size());
  for (auto& input : inputs) {
    if (this_task::stop_requested()) {
      chunk.error = std::make_exception_ptr(CancelledError());
      break;
    }
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&, In&&>>) {
        std::invoke(f, std::move(input));
        chunk.values.emplace_back();
      } else {
        chunk.values.push_back(std::invoke(f, std::move(input)));
      }
    } catch (...) {
      chunk.error = std::current_exception();
      break;
    }
  }
  return chunk;
}

inline void check_map_options(const MapOptions& options) {
  if (options.chunksize == 0) {
    throw std::invalid_argument("concur map: MapOptions::chunksize must be at least 1");
  }
}

// `Input` is the input range: a reference for an lvalue, the range itself for an rvalue
// (std::views::all would do, but clang 14 cannot compile libstdc++ 12's ref_view).
// `SubmitChunk(std::vector<In>) -> Future<MapChunk<Out>>`.
template <class In, class Out, class Input, class SubmitChunk>
class MapResults {
 public:
  class iterator {
   public:
    using value_type = Out;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    Out& operator*() const { return owner_->current(); }
    iterator& operator++() {
      owner_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return owner_->at_end(); }

   private:
    friend class MapResults;
    explicit iterator(MapResults* owner) : owner_(owner) {}
    MapResults* owner_ = nullptr;
  };

  MapResults(Input&& input, SubmitChunk submit, MapOptions options, std::size_t default_in_flight)
      : input_(std::forward<Input>(input)),
        position_(std::ranges::begin(input_)),
        submit_(std::move(submit)),
        chunksize_(options.chunksize),
        in_flight_(options.in_flight != 0 ? options.in_flight : default_in_flight) {
    check_map_options(options);
    refill();
  }
  MapResults(const MapResults&) = delete;
  MapResults& operator=(const MapResults&) = delete;
  ~MapResults() { stop(); }

  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  // Submits chunks up to in_flight. What fails here (reading the input, submitting)
  // is kept and raised at the first element it prevented.
  void refill() noexcept {
    try {
      while (!stopped_ && refill_error_ == nullptr && pending_.size() < in_flight_ &&
             position_ != std::ranges::end(input_)) {
        std::vector<In> chunk;
        chunk.reserve(chunksize_);
        for (; chunk.size() < chunksize_ && position_ != std::ranges::end(input_); ++position_) {
          chunk.push_back(*position_);
        }
        pending_.push_back(submit_(std::move(chunk)));
      }
    } catch (...) {
      refill_error_ = std::current_exception();
    }
  }

  bool at_end() const { return !loaded_ && pending_.empty() && refill_error_ == nullptr; }

  void load() {
    if (loaded_) return;
    if (pending_.empty()) {
      if (refill_error_ == nullptr) throw InvalidState("concur map: advanced past the end");
      const std::exception_ptr error = refill_error_;
      stop();
      std::rethrow_exception(error);
    }
    Future<MapChunk<Out>> front = std::move(pending_.front());
    pending_.pop_front();
    try {
      chunk_ = FutureAccess::take(front);
    } catch (...) {  // the chunk was cancelled (the pool shut down with cancel_futures)
      stop();
      throw;
    }
    refill();
    loaded_ = true;
    index_ = 0;
  }

  Out& current() {
    load();
    if (index_ < chunk_.values.size()) return chunk_.values[index_];
    fail();
  }

  void next() {
    load();
    if (index_ >= chunk_.values.size()) fail();
    if (++index_ == chunk_.values.size() && chunk_.error == nullptr) loaded_ = false;
  }

  [[noreturn]] void fail() {
    std::exception_ptr error = chunk_.error;
    loaded_ = false;
    stop();
    std::rethrow_exception(error);
  }

  void stop() noexcept {
    stopped_ = true;
    refill_error_ = nullptr;
    for (auto& future : pending_) future.cancel();
    pending_.clear();
  }

  Input input_;
  decltype(std::ranges::begin(std::declval<Input&>())) position_;
  SubmitChunk submit_;
  std::size_t chunksize_;
  std::size_t in_flight_;
  std::deque<Future<MapChunk<Out>>> pending_;
  MapChunk<Out> chunk_;
  std::size_t index_ = 0;
  std::exception_ptr refill_error_;
  bool loaded_ = false;
  bool stopped_ = false;
};

// A map whose chunks are run by `submit_chunk(std::vector<In>) -> Future<MapChunk<Out>>`.
template <class In, class Out, std::ranges::input_range R, class SubmitChunk>
auto make_chunked_map(R&& inputs, SubmitChunk submit_chunk, MapOptions options,
                      std::size_t default_in_flight) {
  using Input = std::conditional_t<std::is_lvalue_reference_v<R>, R, std::remove_cvref_t<R>>;
  check_map_options(options);
  return MapResults<In, Out, Input, SubmitChunk>(std::forward<R>(inputs), std::move(submit_chunk),
                                                 options, default_in_flight);
}

// Builds an executor's map: `submit(callable) -> Future` runs a chunk on the executor.
template <class F, std::ranges::input_range R, class Submit>
auto make_map(F f, R&& inputs, MapOptions options, std::size_t default_in_flight,
              Submit submit) {
  using In = std::ranges::range_value_t<R>;
  using Out = MapResult<F, In>;
  auto fn = std::make_shared<F>(std::move(f));
  auto submit_chunk = [fn, submit = std::move(submit)](std::vector<In> chunk) {
    return submit([fn, chunk = std::move(chunk)]() mutable { return run_chunk(*fn, chunk); });
  };
  return make_chunked_map<In, Out>(std::forward<R>(inputs), std::move(submit_chunk), options,
                                   default_in_flight);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
