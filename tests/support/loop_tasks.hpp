// Test helpers of the loop tests: a task that would sleep for 10 s and count its end,
// and cancelling a running task to see that CancelledError comes back.
#pragma once

#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include <chrono>

namespace concur::test {

// Yields `value` after sleeping `d`.
inline Task<int> value_after(std::chrono::milliseconds d, int value) {
  co_await sleep(d);
  co_return value;
}

// Sleeps 10 s, then increments `finished`: a cancelled one never does.
inline Task<int> sleep_then_count(int& finished) {
  co_await sleep(std::chrono::seconds(10));
  ++finished;
  co_return 0;
}

// Lets `task` start, cancels it, and returns whether awaiting it raised CancelledError.
template <class T>
Task<bool> cancel_soon(Task<T> task) {
  auto handle = spawn(std::move(task));
  co_await sleep(std::chrono::milliseconds(1));
  handle.cancel();
  try {
    co_await handle;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

}  // namespace concur::test
