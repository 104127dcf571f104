// Bridges from the loop to executors (Python: asyncio.to_thread, loop.run_in_executor).
//
//   auto text = co_await concur::to_thread(read_file, path);        // a default pool
//   auto x = co_await concur::run_in(process_pool, simulate, params); // any executor
//
// The call runs on the executor while the loop goes on; its value or exception comes
// back through the awaiting task. Cancelling the awaiting task cancels the future (see
// await_future.hpp). Arguments are copied into the task when it is made, so it may be
// awaited later. to_thread uses one ThreadPool per process, started at first use with a
// worker per core and shut down at exit.
// Thread safety: loop-thread only (the executor runs the call on its own threads).
#pragma once

#include <concur/core/promise.hpp>
#include <concur/export.hpp>
#include <concur/loop/await_future.hpp>
#include <concur/loop/task.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {
// Runs `job` on the process-wide default ThreadPool (src/loop/to_thread.cpp).
CONCUR_EXPORT void run_on_default_pool(std::function<void()> job);
}  // namespace detail

template <class Executor, class F, class... Args>
auto run_in(Executor& executor, F f, Args... args) -> Task<std::invoke_result_t<F&, Args&...>> {
  co_return co_await executor.submit(std::move(f), std::move(args)...);
}

template <class F, class... Args>
auto to_thread(F f, Args... args) -> Task<std::invoke_result_t<F&, Args&...>> {
  using R = std::invoke_result_t<F&, Args&...>;
  auto promise = std::make_shared<Promise<R>>();
  Future<R> future = promise->get_future();
  detail::run_on_default_pool([promise, call = std::bind_front(std::move(f), std::move(args)...)]() mutable {
    try {
      if constexpr (std::is_void_v<R>) {
        call();
        promise->set_value();
      } else {
        promise->set_value(call());
      }
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  co_return co_await std::move(future);
}

}  // namespace v0
}  // namespace concur
