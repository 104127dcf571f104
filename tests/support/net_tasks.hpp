// Test helpers of the network tests: an echo handler, a closed port, and catching an
// exception of a task as its message.
#pragma once

#include <concur/loop/event_loop.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/server.hpp>
#include <concur/net/stream.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace concur::test {

// Echoes what it reads until the peer's end of stream.
inline Task<void> echo(Stream stream) {
  for (;;) {
    std::string data = co_await stream.read_some();
    if (data.empty()) co_return;
    stream.write(data);
    co_await stream.drain();
  }
}

// The what() of the exception of type E that `task` raises; nullopt when it raises
// nothing (another type propagates).
template <class E, class T>
Task<std::optional<std::string>> error_of(Task<T> task) {
  try {
    co_await std::move(task);
  } catch (const E& e) {
    co_return std::string(e.what());
  }
  co_return std::nullopt;
}

// The loop's open handles once the close callbacks of what was just closed have run
// (libuv runs them when it polls) and killed children were reaped (on SIGCHLD): checks
// each millisecond, for at most 5 s.
inline Task<std::size_t> handles_left_open() {
  EventLoop& loop = *EventLoop::current();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (loop.open_handles() > 0 && std::chrono::steady_clock::now() < deadline) {
    co_await sleep(std::chrono::milliseconds(1));
  }
  co_return loop.open_handles();
}

// A loopback port that nothing listens on (it was free a moment ago).
inline Task<std::uint16_t> closed_port() {
  Server server = co_await start_server([](Stream) -> Task<void> { co_return; }, "127.0.0.1", 0);
  const std::uint16_t port = server.port();
  server.close();
  co_await server.wait_closed();
  co_return port;
}

}  // namespace concur::test
