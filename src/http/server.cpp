// The HTTP server: one task per connection, reading requests with RequestParser,
// awaiting the handler, writing the response (see http/server.hpp).
#include <concur/http/server.hpp>

#include "request_parser.hpp"

#include <concur/errors.hpp>
#include <concur/net/errors.hpp>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <unordered_set>

namespace concur {
inline namespace v0 {
namespace http {
namespace detail {

struct HttpServerCore {
  Handler handler;
  ServerOptions options;
  std::size_t accepted = 0;
  std::size_t served = 0;
  bool closing = false;
  // Connections waiting for their next request: close() ends their wait.
  std::unordered_set<Stream*> idle;

  void close_idle() noexcept {
    closing = true;
    const std::unordered_set<Stream*> now = std::move(idle);
    idle.clear();
    for (Stream* s : now) s->close();
  }
};

namespace {

using Clock = std::chrono::steady_clock;

// "Sun, 06 Nov 1994 08:49:37 GMT" for this second (made once a second per thread).
std::string_view http_date() {
  thread_local std::time_t cached = 0;
  thread_local char text[32] = {};
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm t{};
    gmtime_r(&now, &t);
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[t.tm_wday], t.tm_mday,
                  months[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
    cached = now;
  }
  return text;
}

bool framing_header(std::string_view name) {
  return equals_ignoring_case(name, "content-length") || equals_ignoring_case(name, "transfer-encoding") ||
         equals_ignoring_case(name, "connection") || equals_ignoring_case(name, "date");
}

bool has_body(int status) { return status >= 200 && status != 204 && status != 304; }

// The status line and headers of `response`; std::invalid_argument for a status out of
// range or a header that would break the framing (a line break in it).
std::string format_head(const Response& response, bool keep_alive, int version_minor) {
  if (response.status < 100 || response.status > 999) {
    throw std::invalid_argument("concur::http::Server: the handler answered status " + std::to_string(response.status));
  }
  std::string head;
  head.reserve(160);
  head.append(version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(response.status)).append(" ");
  head.append(reason_phrase(response.status)).append("\r\nServer: concur\r\nDate: ").append(http_date());
  for (const auto& [name, value] : response.headers) {
    // One pass each (find_first_of would call memchr once per character).
    const auto line_break = [](char c) { return c == '\r' || c == '\n'; };
    if (name.empty() || std::any_of(name.begin(), name.end(), [&](char c) { return c == ':' || line_break(c); }) ||
        std::any_of(value.begin(), value.end(), line_break)) {
      throw std::invalid_argument("concur::http::Server: the handler's header '" + std::string(name) + "' is malformed");
    }
    if (framing_header(name)) continue;  // the server frames the response itself
    head.append("\r\n").append(name).append(": ").append(value);
  }
  if (has_body(response.status)) head.append("\r\nContent-Length: ").append(std::to_string(response.body.size()));
  if (!keep_alive) {
    head.append("\r\nConnection: close");
  } else if (version_minor == 0) {
    head.append("\r\nConnection: keep-alive");
  }
  head.append("\r\n\r\n");
  return head;
}

void write_response(Stream& stream, const Response& response, bool keep_alive, int version_minor, bool head_only) {
  std::string out = format_head(response, keep_alive, version_minor);
  const bool body = !head_only && has_body(response.status) && !response.body.empty();
  if (body && response.body.size() <= 16 * 1024) {
    out += response.body;  // one write for small responses
    stream.write(out);
    return;
  }
  stream.write(out);
  if (body) stream.write(response.body);
}

Task<void> answer_error_and_close(Stream& stream, int status, const std::string& reason) {
  Response response{.status = status, .headers = {{"Content-Type", "text/plain"}}, .body = reason + "\n"};
  write_response(stream, response, false, 1, false);
  // A lingering close (as nginx's): send, half-close, then discard what the client still
  // sends for a while, so that closing with unread input (a reset) does not destroy the
  // answer before the client has read it.
  try {
    co_await stream.drain(std::chrono::seconds(5));
    stream.write_eof();
    const auto until = Clock::now() + std::chrono::seconds(2);
    for (std::size_t discarded = 0; discarded < (std::size_t{1} << 20) && Clock::now() < until;) {
      const std::string more = co_await stream.read_some(64 * 1024, until - Clock::now());
      if (more.empty()) break;
      discarded += more.size();
    }
  } catch (const ConnectionError&) {  // the client is gone: nothing more to tell it
  } catch (const TimeoutError&) {     // the client neither reads nor closes: the close ends it
  }
  stream.close();
}

// Keeps a connection in the server's idle set while it waits for a request to begin.
struct IdleMark {
  HttpServerCore& core;
  Stream* stream;
  IdleMark(HttpServerCore& c, Stream& s) : core(c), stream(&s) { core.idle.insert(stream); }
  ~IdleMark() { core.idle.erase(stream); }
  IdleMark(const IdleMark&) = delete;
  IdleMark& operator=(const IdleMark&) = delete;
};

Task<void> serve_connection(std::shared_ptr<HttpServerCore> core, Stream stream) {
  ++core->accepted;
  const ServerOptions& options = core->options;
  RequestParser parser(options);
  std::string pending;  // bytes read and not yet parsed (pipelined requests)
  std::size_t answered = 0;
  while (!core->closing) {
    // Read until one request is whole. The first request of a connection, and every
    // request from its first byte, has header_timeout; before that, idle_timeout.
    Clock::time_point deadline = Clock::now() + options.header_timeout;
    while (parser.state() == RequestParser::State::incomplete) {
      if (!pending.empty()) {
        const bool was_started = parser.started();
        pending.erase(0, parser.feed(pending));
        if (!was_started) deadline = Clock::now() + options.header_timeout;
        continue;
      }
      const bool idle = answered > 0 && !parser.started();
      std::string data;
      bool timed_out = false;
      try {
        if (idle) {
          const IdleMark mark(*core, stream);
          data = co_await stream.read_some(64 * 1024, options.idle_timeout);
        } else {
          data = co_await stream.read_some(64 * 1024, std::max(deadline - Clock::now(), Clock::duration::zero()));
        }
      } catch (const TimeoutError&) {
        timed_out = true;
      } catch (const ConnectionError&) {
        co_return;  // reset by the client, or closed by Server::close while idle
      }
      if (timed_out) {
        if (idle) co_return;  // a quiet keep-alive connection: closed without a word
        co_await answer_error_and_close(stream, 408, "the request did not arrive within the header timeout");
        co_return;
      }
      if (data.empty()) co_return;  // the client closed
      pending = std::move(data);
    }
    if (parser.state() == RequestParser::State::failed) {
      co_await answer_error_and_close(stream, parser.error_status(), parser.error_reason());
      co_return;
    }
    Request request = parser.take();
    const bool head_only = request.method == "HEAD";
    const int version_minor = request.version_minor;
    bool keep_alive = request.keep_alive;
    std::exception_ptr failure;
    try {
      Response response = co_await core->handler(std::move(request));
      keep_alive = keep_alive && !core->closing && ++answered < options.max_requests_per_connection;
      write_response(stream, response, keep_alive, version_minor, head_only);
    } catch (const CancelledError&) {
      throw;
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {  // the handler's bug: the client gets 500, the server's owner the error
      co_await answer_error_and_close(stream, 500, "the server's handler failed");
      std::rethrow_exception(failure);
    }
    try {
      co_await stream.drain();
    } catch (const ConnectionError&) {
      co_return;  // the client went away before taking its response
    }
    ++core->served;
    if (!keep_alive) break;
  }
  stream.close();
}

}  // namespace
}  // namespace detail

Server::Server(concur::Server tcp, std::shared_ptr<detail::HttpServerCore> core) noexcept
    : tcp_(std::move(tcp)), core_(std::move(core)) {}

Server::~Server() {
  if (core_) close();
}

std::string Server::url() const { return "http://" + tcp_.local_name(); }
std::size_t Server::connections_accepted() const noexcept { return core_ ? core_->accepted : 0; }
std::size_t Server::requests_served() const noexcept { return core_ ? core_->served : 0; }

void Server::close() noexcept {
  tcp_.close();
  if (core_) core_->close_idle();
}

Task<Server> start_server(Handler handler, std::string host, std::uint16_t port, ServerOptions options) {
  if (!handler) throw std::invalid_argument("concur::http::start_server: an empty handler");
  if (options.max_request_line == 0 || options.max_header_bytes == 0 || options.max_headers == 0 ||
      options.max_requests_per_connection == 0) {
    throw std::invalid_argument("concur::http::start_server: a limit of zero (max_request_line, max_header_bytes, "
                                "max_headers and max_requests_per_connection must be > 0)");
  }
  if (options.header_timeout.count() <= 0 || options.idle_timeout.count() <= 0) {
    throw std::invalid_argument("concur::http::start_server: header_timeout and idle_timeout must be > 0");
  }
  auto core = std::make_shared<detail::HttpServerCore>();
  core->handler = std::move(handler);
  core->options = options;
  ConnectionHandler serve = [core](Stream stream) { return detail::serve_connection(core, std::move(stream)); };
  concur::Server tcp = co_await concur::start_server(std::move(serve), std::move(host), port, options.tcp);
  co_return Server(std::move(tcp), std::move(core));
}

}  // namespace http
}  // namespace v0
}  // namespace concur
