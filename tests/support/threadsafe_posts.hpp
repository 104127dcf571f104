// Test helper of the loop tests: `threads` threads each post `calls` increments to the
// current loop with call_soon_threadsafe; the task ends when all have arrived.
#pragma once

#include <concur/loop/event_loop.hpp>
#include <concur/loop/sleep.hpp>

#include <chrono>
#include <thread>
#include <vector>

namespace concur::test {

inline Task<long> count_threadsafe_posts(int threads, int calls) {
  EventLoop& loop = *EventLoop::current();
  long received = 0;  // loop thread only: the posted calls run there
  std::vector<std::thread> posters;
  for (int t = 0; t < threads; ++t) {
    posters.emplace_back([&loop, &received, calls] {
      for (int i = 0; i < calls; ++i) {
        if (!loop.call_soon_threadsafe([&received] { ++received; })) return;
        if (i % 64 == 0) std::this_thread::yield();
      }
    });
  }
  while (received < static_cast<long>(threads) * calls) co_await sleep(std::chrono::milliseconds(1));
  for (auto& p : posters) p.join();
  co_return received;
}

}  // namespace concur::test
