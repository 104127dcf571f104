// Test helpers of the HTTP tests: a data-service server for the length of a task, and
// a raw exchange (bytes out, everything back) for requests no client would send.
#pragma once

#include <concur/http/data_service.hpp>
#include <concur/http/server.hpp>
#include <concur/net/connect.hpp>
#include <concur/net/stream.hpp>

#include "support/net_tasks.hpp"

#include <chrono>
#include <string>

// ASSERT_TRUE for coroutines (gtest's ASSERT_* `return`, which a coroutine cannot).
#define CO_ASSERT_TRUE(condition)                  \
  if (!(condition)) {                              \
    ADD_FAILURE() << "expected true: " #condition; \
    co_return;                                     \
  }

namespace concur::test {

// The data service with no latency (tests ask for one per request with ?latency_ms=).
inline http::DataServiceOptions instant_data() {
  http::DataServiceOptions options;
  options.latency = std::chrono::milliseconds(0);
  return options;
}

// Sends `bytes` on a new connection to `port` and returns everything the server sends
// until it closes (at most 1 MiB, within 10 s).
inline Task<std::string> raw_exchange(std::uint16_t port, std::string bytes) {
  Stream s = co_await open_connection("127.0.0.1", port);
  s.write(bytes);
  std::string back = co_await s.read_to_end(1 << 20, std::chrono::seconds(10));
  s.close();
  co_await s.wait_closed();
  co_return back;
}

// Cancels `handle` and awaits it: true when it ended with CancelledError.
template <class Handle>
Task<bool> cancel_and_join(Handle& handle) {
  handle.cancel();
  try {
    (void)co_await handle;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

// Closes `server` and waits for its connections to end.
inline Task<void> close_server(http::Server& server) {
  server.close();
  co_await server.wait_closed();
}

}  // namespace concur::test
