// start_server(handler, host, port): a TCP server on the event loop (Python:
// asyncio.start_server).
//
//   concur::Task<void> echo(concur::Stream s) {
//     for (std::string data; !(data = co_await s.read_some()).empty();) s.write(data);
//   }
//   concur::Server server = co_await concur::start_server(echo, "127.0.0.1", 0);
//   std::uint16_t port = server.port();                 // 0 asked for a free port
//   ...
//   server.close();                  // stop accepting; running handlers go on
//   co_await server.wait_closed();   // until every handler has ended
//
// Each accepted connection runs `handler(stream)` as its own task; the stream closes
// when the handler is done with it. The host is resolved and the server listens on its
// first address (use "127.0.0.1" or "::1" to choose; "0.0.0.0" listens everywhere).
// A handler that throws does not stop the server: its exception is kept, and
// wait_closed() raises the kept ones as an ExceptionGroup after the server has closed —
// unless ServerOptions::on_handler_error takes them instead. Past 100 kept failures,
// and for failures nobody collected when the server goes away, the exception goes to
// the unhandled-exception handler (core/unhandled_exception.hpp): none is lost.
// Handlers cancelled by cancel_handlers() or by the end of the loop are not failures.
// Graceful close: close() stops accepting; wait_closed() waits for the handlers;
// cancel_handlers() cancels them (asyncio 3.13's close_clients).
//
// Lifetime: destroying the Server closes it; handlers still running keep what they need.
// Thread safety: loop-thread only.
#pragma once

#include <concur/export.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace concur {
inline namespace v0 {

namespace detail {
struct ServerCore;  // src/net/server.cpp
}

using ConnectionHandler = std::function<Task<void>(Stream)>;

struct ServerOptions {
  int backlog = 511;  // pending connections the kernel queues (asyncio: 100; libuv, nginx: 511)
  // Called with each handler's exception (not CancelledError) instead of keeping it.
  std::function<void(std::exception_ptr)> on_handler_error;
};

class CONCUR_EXPORT Server {
 public:
  Server() noexcept = default;
  explicit Server(std::shared_ptr<detail::ServerCore> core) noexcept;
  Server(Server&&) noexcept = default;
  Server& operator=(Server&&) noexcept;
  ~Server();

  // The address and port it listens on ("127.0.0.1:40123"; port() alone).
  std::string local_name() const;
  std::uint16_t port() const;
  // Handlers running now.
  std::size_t connections() const noexcept;
  bool is_serving() const noexcept;

  void close() noexcept;            // idempotent
  void cancel_handlers() noexcept;  // cancels every running handler
  // Until the server is closed (by anyone) and no handler runs; then raises the kept
  // handler failures as an ExceptionGroup.
  Task<void> wait_closed();

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

// std::invalid_argument for a bad backlog; IoError when the address cannot be bound
// (in use, not local, no permission), naming it.
// (An overload, not a default argument: see create_subprocess_exec.)
CONCUR_EXPORT Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port,
                                        ServerOptions options);
inline Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port) {
  return start_server(std::move(handler), std::move(host), port, ServerOptions());
}

}  // namespace v0
}  // namespace concur
