// ProcessPool: worker processes running submitted calls (Python:
// concurrent.futures.ProcessPoolExecutor), for code that must be isolated: crashing,
// leaking, hanging or not thread-safe.
//
//   concur::ProcessPool pool;                          // one worker per core
//   auto f = pool.submit(simulate, 42, params);        // f(args...) in a worker
//   auto g = pool.submit_with({.timeout = 5s}, solve, input);
//   for (double y : pool.map(integrate, inputs, {.chunksize = 100})) ...
//
// What runs: free functions, captureless lambdas and function objects with a cereal
// serialize(); arguments and results that cereal serializes or that are trivially
// copyable (process/detail/wire.hpp). Anything else does not compile, naming the type.
// The function travels as (module, offset) and is resolved in the worker's own copy of
// the binary: no registration.
//
// Faults: an exception thrown by a task arrives as RemoteError (type name, message,
// worker pid). A worker that dies fails only the task it was running, with WorkerDied;
// tasks queued behind it go to other workers, a replacement starts, and the pool goes
// on. A task past its timeout, or cancel()ed while it runs, has its worker stopped
// (SIGTERM, SIGKILL after options.kill_grace) and fails with TimeoutError or
// CancelledError.
//
// Start methods: forkserver (default) forks a single-threaded zygote when the pool is
// built and forks every worker from it; fork forks workers from this process (refused
// while other threads run, unless allowed); spawn executes this program again, which
// must call concur::serve_if_worker(argc, argv) first thing in main
// (process/worker_entry.hpp).
//
// Lifetime: shutdown() stops new submits (they throw BrokenExecutor); the destructor is
// shutdown({.wait = true}), and no worker process outlives the pool. Workers also die
// with the parent process (PR_SET_PDEATHSIG and end-of-file on their channel).
// Thread safety: every member may be called concurrently from any thread.
#pragma once

#include <concur/core/executor.hpp>
#include <concur/core/future.hpp>
#include <concur/core/map.hpp>
#include <concur/core/observer.hpp>
#include <concur/export.hpp>
#include <concur/process/detail/remote_call.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <vector>

namespace concur {
inline namespace v0 {

namespace detail {
class ProcessPoolCore;
}

enum class StartMethod { forkserver, fork, spawn };

struct ProcessPoolOptions {
  StartMethod start_method = StartMethod::forkserver;
  // StartMethod::fork from a process with other threads is refused (the children would
  // inherit whatever locks those threads held); set this to take the risk.
  bool allow_fork_with_threads = false;
  // Runs once in each worker before it takes tasks (a free function or +[] { ... }). If it
  // throws or the worker dies in it, the pool is broken: BrokenExecutor with the reason.
  void (*initializer)() = nullptr;
  // Replace a worker after this many tasks; 0: never.
  std::size_t max_tasks_per_child = 0;
  // Replace a worker whose resident memory exceeds this many bytes after a task; 0: never.
  std::size_t max_memory_per_child = 0;
  // How many more times a task is sent after the worker running it died (not after a
  // timeout or cancel). Off by default: not every task is safe to run twice.
  unsigned retries = 0;
  // OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS in the workers. Unset: 1,
  // except for a variable already set in this process's environment.
  std::optional<unsigned> threads_per_worker;
  // Between SIGTERM and SIGKILL when a worker is stopped.
  std::chrono::milliseconds kill_grace{1000};
  // A spawned worker that has not reached serve_if_worker() by then breaks the pool.
  std::chrono::milliseconds start_timeout{10000};
  // The largest task or result frame; a larger one is a SerializationError.
  std::size_t max_frame_bytes = std::size_t{1} << 31;
  // Worker processes are named "<name>-<index>" (cut to the 15 characters Linux keeps).
  std::string name = "concur";
  // Receives worker and task events on the pool's manager thread; it must not call into
  // this pool.
  std::shared_ptr<Observer> observer;
};

// Per-task options of submit_with().
struct TaskOptions {
  // Stop the task's worker and fail the task with TimeoutError once it has run this
  // long; zero: no limit.
  std::chrono::milliseconds timeout{0};
};

class CONCUR_EXPORT ProcessPool {
 public:
  // The number of hardware threads, at least 1.
  static std::size_t default_workers() noexcept;

  // Throws std::invalid_argument when workers is 0, InvalidState when the start method
  // cannot be used here (fork with threads; inside a spawned worker), Error when a
  // process or channel cannot be created.
  explicit ProcessPool(std::size_t workers = default_workers(), ProcessPoolOptions options = {});
  ~ProcessPool();
  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;

  // Runs f(args...) in a worker process. f and args are encoded now (SerializationError
  // if that fails or the frame exceeds max_frame_bytes).
  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) {
    return submit_with(TaskOptions{}, std::forward<F>(f), std::forward<Args>(args)...);
  }

  template <class F, class... Args>
  auto submit_with(const TaskOptions& task_options, F&& f, Args&&... args)
      -> Future<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>> {
    using Fn = std::decay_t<F>;
    using R = std::invoke_result_t<Fn, std::decay_t<Args>...>;
    static_assert(detail::RequireRemoteCallable<Fn>::value);
    static_assert((detail::RequireTransportable<std::decay_t<Args>>::value && ... &&
                   detail::RequireTransportable<R>::value));
    std::string request;
    const std::uint64_t id = next_task_id();
    detail::encode_task<&detail::remote_entry<Fn, R, std::decay_t<Args>...>>(
        request, id, [&](cereal::BinaryOutputArchive& archive) {
          detail::put_callable<Fn>(archive, f);
          (detail::put(archive, args), ...);
        });
    auto* task = new detail::ProcessTask<R>(stop_sink(), &detail::decode_value<R>);
    task->request = std::move(request);
    task->state().id = id;
    task->timeout = task_options.timeout;
    Future<R> future = detail::FutureAccess::adopt<R>(task);
    enqueue(task);
    return future;
  }

  // f over inputs, lazily and in input order (core/map.hpp); a chunk of
  // options.chunksize inputs is one task.
  template <class F, std::ranges::input_range R>
  auto map(F f, R&& inputs, MapOptions options = {}) {
    using Fn = std::decay_t<F>;
    using In = std::ranges::range_value_t<R>;
    using Out = detail::MapResult<Fn, In>;
    static_assert(detail::RequireRemoteCallable<Fn>::value);
    static_assert(detail::RequireTransportable<In>::value &&
                  detail::RequireTransportable<std::invoke_result_t<Fn&, In&&>>::value);
    auto submit_chunk = [this, f](std::vector<In> chunk) {
      std::string request;
      const std::uint64_t id = next_task_id();
      detail::encode_task<&detail::remote_chunk_entry<Fn, In>>(
          request, id, [&](cereal::BinaryOutputArchive& archive) {
            detail::put_callable<Fn>(archive, f);
            archive(static_cast<std::uint64_t>(chunk.size()));
            for (const In& input : chunk) detail::put(archive, input);
          });
      auto* task = new detail::ProcessTask<detail::MapChunk<Out>>(stop_sink(),
                                                                  &detail::decode_chunk<Out>);
      task->request = std::move(request);
      task->state().id = id;
      Future<detail::MapChunk<Out>> future = detail::FutureAccess::adopt(
          static_cast<detail::State<detail::MapChunk<Out>>*>(task));
      enqueue(task);
      return future;
    };
    return detail::make_chunked_map<In, Out>(std::forward<R>(inputs), std::move(submit_chunk),
                                             options, 4 * workers());
  }

  void shutdown(ShutdownOptions options = {});

  std::size_t workers() const noexcept;
  // The pids of the live worker processes, in worker order (0 for a worker being
  // replaced). For diagnostics and tests.
  std::vector<int> worker_pids() const;

 private:
  std::shared_ptr<detail::StopSink> stop_sink() const;
  std::uint64_t next_task_id() noexcept;
  // Takes the queue's reference to `task`; on failure releases it and throws.
  void enqueue(detail::ProcessTaskBase* task);

  std::shared_ptr<detail::ProcessPoolCore> core_;
};

}  // namespace v0
}  // namespace concur
