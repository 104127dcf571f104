// RequestParser: HTTP/1.x requests out of a byte stream, one at a time, within bounds
// (private to src/http; the fuzz target drives it directly).
//
// feed() takes bytes and stops at the end of a request (pipelined bytes after it are
// left for the next feed). Errors carry the status to answer: 400 malformed, 413 body too
// large, 414 request line too long, 431 headers too large, 505 not HTTP/1.x. The parsing
// itself is http_parser's (libhttp-parser-dev); this class adds the bounds, collects the
// pieces and hands out the request.
// Thread safety: one thread at a time.
#pragma once

#include <concur/http/server.hpp>

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace concur {
inline namespace v0 {
namespace http {
namespace detail {

class RequestParser {
 public:
  enum class State { incomplete, complete, failed };

  explicit RequestParser(const ServerOptions& limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes bytes of the current request; returns how many. Stops early when the
  // request is complete or the input is refused.
  std::size_t feed(std::string_view data);
  State state() const noexcept { return state_; }
  // Some byte of the current request has arrived.
  bool started() const noexcept { return started_; }
  // failed: the status to answer and why.
  int error_status() const noexcept { return error_status_; }
  const std::string& error_reason() const noexcept { return error_reason_; }

  // complete: the request; the parser then waits for the next one.
  Request take();

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, std::size_t n);
  static int on_header_field(http_parser* p, const char* at, std::size_t n);
  static int on_header_value(http_parser* p, const char* at, std::size_t n);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, std::size_t n);
  static int on_message_complete(http_parser* p);
  int fail(int status, std::string reason);
  bool count_header_bytes(std::size_t n);
  // Adds the field read so far to the request; false (and failed) past max_headers.
  bool store_field();

  const ServerOptions& limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  State state_ = State::incomplete;
  bool started_ = false;
  int error_status_ = 0;
  std::string error_reason_;
  Request request_;
  std::string field_, value_;
  bool in_value_ = false;
  std::size_t header_bytes_ = 0;
};

}  // namespace detail
}  // namespace http
}  // namespace v0
}  // namespace concur
