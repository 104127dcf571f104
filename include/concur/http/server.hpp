// http::start_server(handler, host, port): an HTTP/1.1 server on the event loop, for
// local data services, tests and benchmarks (Python: aiohttp.web, http.server).
//
//   concur::Task<concur::http::Response> hello(concur::http::Request request) {
//     co_return concur::http::Response{.status = 200, .body = "hello " + request.path};
//   }
//   concur::http::Server server = co_await concur::http::start_server(hello, "127.0.0.1", 0);
//   ... server.port() ...
//   server.close();
//   co_await server.wait_closed();
//
// Each connection is a task that reads requests, awaits the handler for each and writes
// its response: keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked), pipelined requests
// answered in order, HEAD answered without the body, Content-Length and Date added.
// Requests are parsed by http_parser (Node's classic parser, Debian's libhttp-parser-dev)
// within bounds: a request line past max_request_line gets 414, headers past
// max_header_bytes or max_headers 431, a body past max_body_size 413, anything malformed
// 400; each then closes the connection. A client that has not sent its headers within
// header_timeout gets 408 and is closed; an idle keep-alive connection is closed after
// idle_timeout. A handler that throws answers 500, closes its connection, and its
// exception goes where the TCP server's handler failures go (net/server.hpp: kept for
// wait_closed, or ServerOptions::on_handler_error): none is swallowed.
// Graceful close as the TCP server: close() stops accepting; wait_closed() waits for the
// connections to end (idle keep-alive connections are closed at once by close()).
//
// Lifetime and thread safety: as concur::Server (loop-thread only).
#pragma once

#include <concur/export.hpp>
#include <concur/http/response.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/server.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace concur {
inline namespace v0 {
namespace http {

struct Request {
  std::string method;  // "GET"
  std::string target;  // "/files/3?size=10"
  std::string path;    // "/files/3"
  std::string query;   // "size=10"
  int version_minor = 1;  // HTTP/1.x
  Headers headers;
  std::string body;
  bool keep_alive = true;  // what the client asked for
};

using Handler = std::function<Task<Response>(Request)>;

struct ServerOptions {
  std::size_t max_request_line = 8 * 1024;    // method and target: 414 past it (nginx: 8 KiB)
  std::size_t max_header_bytes = 16 * 1024;   // all header lines: 431 past it
  std::size_t max_headers = 100;              // header fields: 431 past it
  std::size_t max_body_size = 1024 * 1024;    // 413 past it (nginx: 1 MiB)
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);  // 408, then closed
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);    // between requests
  std::size_t max_requests_per_connection = 1000;  // then closed (nginx's keepalive_requests)
  concur::ServerOptions tcp;  // backlog, on_handler_error
};

namespace detail {
struct HttpServerCore;  // src/http/server.cpp
}

class CONCUR_EXPORT Server {
 public:
  Server() noexcept = default;
  Server(concur::Server tcp, std::shared_ptr<detail::HttpServerCore> core) noexcept;
  Server(Server&&) noexcept = default;
  Server& operator=(Server&&) noexcept = default;
  ~Server();

  std::uint16_t port() const { return tcp_.port(); }
  std::string local_name() const { return tcp_.local_name(); }
  // "http://127.0.0.1:40123" ("http://[::1]:40123" for IPv6).
  std::string url() const;
  bool is_serving() const noexcept { return tcp_.is_serving(); }
  // Connections open now, accepted so far, and requests answered so far.
  std::size_t connections() const noexcept { return tcp_.connections(); }
  std::size_t connections_accepted() const noexcept;
  std::size_t requests_served() const noexcept;

  // Stops accepting and closes idle keep-alive connections; idempotent.
  void close() noexcept;
  void cancel_handlers() noexcept { tcp_.cancel_handlers(); }
  Task<void> wait_closed() { return tcp_.wait_closed(); }

 private:
  concur::Server tcp_;
  std::shared_ptr<detail::HttpServerCore> core_;
};

// std::invalid_argument for zero limits or timeouts; IoError when the address cannot be
// bound. (Overloads, not default arguments: see create_subprocess_exec.)
CONCUR_EXPORT Task<Server> start_server(Handler handler, std::string host, std::uint16_t port,
                                        ServerOptions options);
inline Task<Server> start_server(Handler handler, std::string host, std::uint16_t port) {
  return start_server(std::move(handler), std::move(host), port, ServerOptions());
}

}  // namespace http
}  // namespace v0
}  // namespace concur
