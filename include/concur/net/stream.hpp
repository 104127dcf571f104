// Stream: a byte stream on the event loop — a TCP connection or a subprocess pipe
// (Python: asyncio.StreamReader and StreamWriter in one object).
//
//   concur::Stream s = co_await concur::open_connection("127.0.0.1", port);
//   s.write("GET / HTTP/1.0\r\n\r\n");
//   co_await s.drain();                                  // backpressure, as asyncio
//   std::string status = co_await s.read_line();        // "HTTP/1.0 200 OK\r\n"
//   std::string body = co_await s.read_to_end(1 << 20);
//
// Reading: bytes arrive into the stream's buffer while a read waits and until 256 KiB
// are buffered (then the stream stops reading from the socket until they are
// consumed). Every read can take a timeout: past it TimeoutError is raised and nothing
// is lost (what arrived stays buffered). One task reads at a time; a second concurrent
// read is an InvalidState error (asyncio raises RuntimeError).
//   read_some(max)        1..max bytes; "" only at the end of the stream.
//   read_exactly(n)       n bytes; IncompleteReadError (with the partial bytes) at the end.
//   read_until(d, max)    up to and including delimiter d; LimitOverrunError when max
//                         bytes hold no d (they stay buffered); IncompleteReadError at
//                         the end. read_line(max) is read_until("\n", max).
//   read_to_end(max)      everything up to the end; LimitOverrunError past max bytes.
// Writing: write() never blocks: it sends what the socket takes at once and queues the
// rest; drain() waits while more than 64 KiB are queued (until 16 KiB are left), and
// raises the error that broke the connection. write_eof() half-closes (TCP shutdown).
// close() sends what is queued, then closes (abort() drops it); the destructor closes. Errors of the
// connection (reset, broken pipe, use after close) are ConnectionError.
//
// Lifetime: move-only; destroy a Stream only when no task is in one of its operations.
// Thread safety: loop-thread only (the loop that made it).
#pragma once

#include <concur/export.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/errors.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace concur {
inline namespace v0 {

namespace detail {
struct StreamCore;  // src/net/stream_core.hpp
}

// "No time limit" for the timeout parameters of the network layer.
inline constexpr std::chrono::nanoseconds no_timeout = std::chrono::nanoseconds::max();

class CONCUR_EXPORT Stream {
 public:
  static constexpr std::size_t default_limit = 64 * 1024;  // asyncio's stream limit

  Stream() noexcept = default;
  explicit Stream(detail::StreamCore* core) noexcept : core_(core) {}
  Stream(Stream&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept;
  ~Stream();

  explicit operator bool() const noexcept { return core_ != nullptr; }

  Task<std::string> read_some(std::size_t max = default_limit, std::chrono::nanoseconds timeout = no_timeout);
  Task<std::string> read_exactly(std::size_t n, std::chrono::nanoseconds timeout = no_timeout);
  Task<std::string> read_until(std::string delimiter, std::size_t max = default_limit,
                               std::chrono::nanoseconds timeout = no_timeout);
  Task<std::string> read_line(std::size_t max = default_limit, std::chrono::nanoseconds timeout = no_timeout);
  Task<std::string> read_to_end(std::size_t max, std::chrono::nanoseconds timeout = no_timeout);
  // The end of the stream was seen and every byte before it was read.
  bool at_eof() const noexcept;
  // Bytes received and not yet read.
  std::size_t buffered() const noexcept;

  void write(std::string_view data);
  Task<void> drain(std::chrono::nanoseconds timeout = no_timeout);
  // Bytes written but not yet taken by the operating system.
  std::size_t write_queued() const noexcept;
  void write_eof();

  // Idempotent. Queued writes are still sent; pending reads end with ConnectionError.
  void close() noexcept;
  // Closes at once; queued writes are dropped.
  void abort() noexcept;
  bool is_closing() const noexcept;
  // After close(): until the operating system resource is released.
  Task<void> wait_closed();

  // "address:port" of the two ends of a TCP stream; "" for a pipe.
  std::string peer_name() const;
  std::string local_name() const;

 private:
  detail::StreamCore& live(const char* what) const;
  detail::StreamCore* core_ = nullptr;
};

}  // namespace v0
}  // namespace concur
