// The Executor concept: what every concur executor (ThreadPool, ProcessPool, MpiPool)
// offers, as in concurrent.futures.Executor.
//
//   submit(f, args...) -> Future<R>       f(args...) runs on a worker
//   map(f, inputs, MapOptions) -> range   lazy, results in input order
//   shutdown(ShutdownOptions)             no more submits; optionally wait / cancel
//
// Submitting after shutdown throws BrokenExecutor. Destruction is shutdown({.wait =
// true}).
#pragma once

#include <concur/core/future.hpp>

#include <concepts>
#include <cstddef>
#include <ranges>
#include <vector>

namespace concur {
inline namespace v0 {

struct MapOptions {
  // Inputs handed to a worker at once (Python: chunksize); >= 1.
  std::size_t chunksize = 1;
  // Chunks submitted ahead of the consumer; 0 picks 4 per worker. Bounds memory, so an
  // endless input works.
  std::size_t in_flight = 0;
};

struct ShutdownOptions {
  // Block until every queued and running task finished and the workers exited.
  bool wait = true;
  // Cancel the tasks that have not started (their futures raise CancelledError).
  bool cancel_futures = false;
};

namespace detail {
inline int executor_probe_task() { return 1; }
}  // namespace detail

template <class E>
concept Executor = requires(E& executor, ShutdownOptions options, std::vector<int> inputs) {
  { executor.submit(&detail::executor_probe_task) } -> std::same_as<Future<int>>;
  { executor.map(+[](int x) { return x; }, inputs) } -> std::ranges::input_range;
  executor.shutdown(options);
};

}  // namespace v0
}  // namespace concur
