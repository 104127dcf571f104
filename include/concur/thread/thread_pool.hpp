// ThreadPool: a fixed set of worker threads running submitted tasks (Python:
// concurrent.futures.ThreadPoolExecutor; C++ threads run in parallel: there is no GIL).
//
//   concur::ThreadPool pool;                       // one worker per core
//   auto f = pool.submit([](int x) { return x * x; }, 7);
//   for (int y : pool.map(square, inputs)) ...     // lazy, in input order
//
// Scheduling: submits from outside the pool go to a shared lock-free inbox and start
// roughly in submission order; submits from a task go to its worker's deque and run
// depth-first (LIFO for that worker), while idle workers steal the oldest. One idle
// worker spins briefly (options.idle_spin) before it sleeps, so a burst of tiny tasks is
// picked up without a wake-up. Details: docs/design.md.
// Nested waits: a task that waits on a future of its own pool runs that task inline if
// it is still queued, else other queued work: no deadlock, even with one worker.
//
// Lifetime: shutdown() stops new submits (they throw BrokenExecutor); the destructor is
// shutdown({.wait = true}). A failing initializer breaks the pool: queued tasks fail
// with BrokenExecutor naming the reason, further submits throw it.
// Thread safety: every member may be called concurrently from any thread, including
// from the pool's own tasks. Undefined: destroying the pool from one of its own tasks
// (shutdown with wait = true from a task throws InvalidState instead).
#pragma once

#include <concur/core/detail/shared_state.hpp>
#include <concur/core/executor.hpp>
#include <concur/core/future.hpp>
#include <concur/core/map.hpp>
#include <concur/core/observer.hpp>
#include <concur/export.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <ranges>
#include <string>
#include <type_traits>

namespace concur {
inline namespace v0 {

namespace detail {
class ThreadPoolCore;
}

struct ThreadPoolOptions {
  // Worker threads are named "<name>-<index>" (cut to the 15 characters Linux keeps).
  std::string name = "concur";
  // Runs once on each worker before it takes tasks (Python: initializer).
  std::function<void()> initializer;
  // Receives submit/start/finish events; shared with the caller.
  std::shared_ptr<Observer> observer;
  // How long one idle worker polls for work before it sleeps; zero never spins. It also
  // stops (for a while) when it finds itself descheduled: another program wants the cores.
  std::chrono::microseconds idle_spin{50};
};

class CONCUR_EXPORT ThreadPool {
 public:
  // The number of hardware threads, at least 1.
  static std::size_t default_workers() noexcept;

  // Throws std::invalid_argument when workers is 0.
  explicit ThreadPool(std::size_t workers = default_workers(), ThreadPoolOptions options = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs f(args...) on a worker; f and args are copied or moved into the task.
  template <class F, class... Args>
    requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
  auto submit(F&& f, Args&&... args)
      -> Future<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>> {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
    detail::State<R>* task = detail::make_task<R>(std::forward<F>(f), std::forward<Args>(args)...);
    Future<R> future = detail::FutureAccess::adopt(task);
    enqueue(task);
    return future;
  }

  // f over inputs, lazily and in input order (see core/map.hpp).
  template <class F, std::ranges::input_range R>
    requires std::invocable<F&, std::ranges::range_value_t<R>&&>
  auto map(F f, R&& inputs, MapOptions options = {}) {
    return detail::make_map(std::move(f), std::forward<R>(inputs), options, 4 * workers(),
                            [pool = this](auto&& chunk_task) {
                              return pool->submit(std::forward<decltype(chunk_task)>(chunk_task));
                            });
  }

  void shutdown(ShutdownOptions options = {});

  std::size_t workers() const noexcept;

 private:
  // Takes the queue's reference to `task`; on failure releases it and throws.
  void enqueue(detail::StateBase* task);

  std::unique_ptr<detail::ThreadPoolCore> core_;
};

}  // namespace v0
}  // namespace concur
