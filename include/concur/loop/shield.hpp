// shield(task): await a task without letting a cancel reach it (Python: asyncio.shield).
//
//   auto saving = concur::spawn(save(results));
//   co_await concur::shield(saving);   // cancelling us raises CancelledError here at once,
//                                      // but `saving` runs on to its end
//
// Cancelling the awaiting task raises CancelledError at the co_await without cancelling
// the shielded task; its outcome stays in its handle. Cancelling the shielded task itself
// (through its handle) still cancels it, and the awaiter then gets CancelledError.
// Thread safety: loop-thread only.
#pragma once

#include <concur/errors.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/loop/task.hpp>

#include <type_traits>
#include <utility>

namespace concur {
inline namespace v0 {

template <class T>
Task<T> shield(TaskHandle<T> handle) {
  if (!handle) throw InvalidState("concur::shield: an empty TaskHandle");
  if constexpr (std::is_void_v<T>) {
    co_await detail::JoinAwaiter<T>(handle.promise(), /*propagate_cancel=*/false);
  } else {
    co_return co_await detail::JoinAwaiter<T>(handle.promise(), /*propagate_cancel=*/false);
  }
}

// Spawns `task` on the current loop and shields it.
template <class T>
Task<T> shield(Task<T> task) {
  return shield(spawn(std::move(task)));
}

}  // namespace v0
}  // namespace concur
