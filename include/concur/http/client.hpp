// http::Client: HTTP and HTTPS requests from tasks on the event loop, on libcurl's
// multi-socket API driven by the loop itself (no extra thread; Python: aiohttp's
// ClientSession).
//
//   concur::Task<void> fetch(std::string url) {
//     concur::http::Client client;                        // one per program, reused
//     concur::http::Response r = co_await client.get(url);
//     r.raise_for_status();
//     use(r.body);
//   }
//
// A Client keeps its connections open between requests (keep-alive, HTTP/2 multiplexing
// on TLS) and shares them among all its requests; make one and reuse it, as with
// aiohttp.ClientSession. Limits: at most max_connections open connections in all and
// max_connections_per_host to one host; requests past them wait in libcurl's queue.
// Safe defaults (RequestOptions): connect 10 s, total 60 s, 30 s without a byte,
// 100 MiB of body, 10 redirects, TLS verified, http and https only (also for redirects).
// Errors are listed in http/errors.hpp. Cancelling the task that awaits a request aborts
// its transfer at once.
//
// Lifetime: a Client belongs to the loop it was made on. Requests keep what they need,
// so the Client may go before the tasks that await it; when the loop ends it closes the
// Client's connections. Thread safety: loop-thread only (for threads, see blocking.hpp).
#pragma once

#include <concur/export.hpp>
#include <concur/http/response.hpp>
#include <concur/loop/task.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace concur {
inline namespace v0 {
namespace http {

namespace detail {
struct ClientCore;  // src/http/client.cpp
}

struct RequestOptions {
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds total_timeout = std::chrono::seconds(60);  // the whole request
  // TimeoutError when no byte arrives for this long (whole seconds: libcurl's low-speed
  // check); zero turns it off.
  std::chrono::seconds read_timeout = std::chrono::seconds(30);
  std::size_t max_body_size = std::size_t{100} << 20;  // decoded bytes
  int max_redirects = 10;                              // 0: redirects are not followed
  bool verify_tls = true;                              // peer certificate and host name
  // A PEM file of the certificates to trust instead of the system's (requests:
  // verify="path"); for a private CA or a self-signed test server. Empty: the system's.
  std::string ca_file;
  Headers headers;                                     // sent with the request
};

struct ClientOptions {
  RequestOptions defaults;                    // for requests that bring none
  std::size_t max_connections = 100;          // open at once, all hosts (aiohttp: 100); 0: no limit
  std::size_t max_connections_per_host = 0;   // 0: no limit (aiohttp's default)
};

class CONCUR_EXPORT Client {
 public:
  // On a loop thread (InvalidState otherwise); std::invalid_argument for bad options.
  Client();
  explicit Client(ClientOptions options);
  Client(Client&&) noexcept = default;
  Client& operator=(Client&&) noexcept = default;
  ~Client();

  // An overload per form, not default arguments: see create_subprocess_exec.
  Task<Response> get(std::string url);
  Task<Response> get(std::string url, RequestOptions options);
  Task<Response> post(std::string url, std::string body, std::string content_type);
  Task<Response> post(std::string url, std::string body, std::string content_type, RequestOptions options);
  // Any method ("PUT", "DELETE", "HEAD", ...); `body` is sent when not empty.
  Task<Response> request(std::string method, std::string url, std::string body, RequestOptions options);

  // InvalidState on a moved-from Client.
  const ClientOptions& options() const;
  // Requests started and not yet finished.
  std::size_t in_flight() const noexcept;
  // Connections libcurl opened so far (each reused connection counts once).
  std::size_t connections_opened() const noexcept;

 private:
  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace http
}  // namespace v0
}  // namespace concur
