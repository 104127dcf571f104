// run(task): the entry point of asyncio-style code (Python: asyncio.run).
//
//   int main() { return concur::run(main_task()); }
//
// Makes an EventLoop on the calling thread, runs `task` to its end, cancels and finishes
// the tasks it left running, closes the loop, and returns the task's value or rethrows
// its exception. SIGINT (Ctrl-C) while it runs cancels the task: CancelledError unwinds
// it (destructors and catch blocks run) and is rethrown here.
// Thread safety: any thread may call run; one loop per thread at a time.
#pragma once

#include <concur/loop/event_loop.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/loop/task.hpp>

#include <utility>

namespace concur {
inline namespace v0 {

template <class T>
T run(Task<T> task) {
  EventLoop loop;
  return loop.run_until_complete(std::move(task));
}

}  // namespace v0
}  // namespace concur
