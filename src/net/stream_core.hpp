// StreamCore: the libuv side of a Stream (private to src/net).
//
// Ownership: two parties, the Stream (owner_alive) and libuv (until the handle's close
// callback ran: handle_closed). Whichever lets go last deletes the core.
// Thread safety: loop-thread only.
#pragma once

#include <concur/loop/detail/wakeup.hpp>

#include <concur/loop/event_loop.hpp>
#include <concur/net/errors.hpp>
#include <concur/net/resolve.hpp>

#include <uv.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

// A growable byte buffer: data in [begin, end), free space after end.
class ByteBuffer {
 public:
  std::size_t size() const noexcept { return end_ - begin_; }
  std::string_view view() const noexcept { return {data_.get() + begin_, size()}; }
  std::string take(std::size_t n) {
    std::string out(data_.get() + begin_, n);
    consume(n);
    return out;
  }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Free space for at least `want` bytes at the end.
  uv_buf_t space(std::size_t want) {
    if (capacity_ - end_ < want) {
      if (begin_ > 0) {  // move the data to the front first
        std::memmove(data_.get(), data_.get() + begin_, size());
        end_ -= begin_;
        begin_ = 0;
      }
      if (capacity_ - end_ < want) {
        const std::size_t grown = std::max(2 * capacity_, end_ + want);
        auto bigger = std::make_unique_for_overwrite<char[]>(grown);
        if (end_ > 0) std::memcpy(bigger.get(), data_.get(), end_);
        data_ = std::move(bigger);
        capacity_ = grown;
      }
    }
    return uv_buf_init(data_.get() + end_, static_cast<unsigned>(capacity_ - end_));
  }
  void commit(std::size_t n) noexcept { end_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0, begin_ = 0, end_ = 0;
};

// SIGPIPE set to ignored once, when it still has its default (killing) action.
void ignore_sigpipe() noexcept;

struct StreamCore final : LoopResource {
  static constexpr std::size_t read_high_water = 256 * 1024;  // stop reading from the socket
  static constexpr std::size_t write_high_water = 64 * 1024;  // drain() waits above it
  static constexpr std::size_t write_low_water = 16 * 1024;   // ... until this is left

  union Handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } uv{};
  EventLoop* loop = nullptr;

  ByteBuffer input;
  bool eof = false;
  int read_status = 0;  // the libuv error that ended reading (0: none)
  bool reading = false;
  Wakeup* reader = nullptr;
  std::size_t reader_wants = 1;  // wake the reader once this many bytes are buffered

  std::size_t write_queued = 0;
  int write_status = 0;  // the libuv error that broke writing (0: none)
  bool eof_sent = false;
  std::vector<Wakeup*> drainers;
  std::vector<Wakeup*> close_waiters;

  bool close_started = false;
  bool handle_closed = false;
  bool owner_alive = true;

  bool shutdown_pending = false;  // a uv_shutdown in flight (write_eof or close)
  bool close_after_shutdown = false;

  // Initialise uv (uv_tcp_init or uv_pipe_init) before track(): the loop may then close it.
  explicit StreamCore(EventLoop& l) : loop(&l) {}
  void track() noexcept {
    ignore_sigpipe();
    uv.handle.data = this;
    loop->track(*this);
  }
  uv_loop_t* uv_loop() const noexcept { return static_cast<uv_loop_t*>(loop->native()); }

  // Reading from the socket: starts when a read waits, pauses at read_high_water.
  void want_input();
  void wake_reader() noexcept;
  // Closing: shutdown first when writes are queued, then uv_close; wakes every waiter.
  void begin_close() noexcept;
  // Closes at once, dropping queued writes (Stream::abort, and the loop's end).
  void close_now() noexcept override;
  // Called by the Stream's destructor: closes and lets go.
  void release() noexcept;
};

// "connection reset by peer (ECONNRESET)".
std::string uv_reason(int status);
std::error_code uv_error_code(int status);
// "address:port" of a sockaddr; "" for other families.
std::string endpoint_name(const sockaddr* address);
// false when the endpoint's address is not numeric text of its family.
bool to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out);

}  // namespace detail
}  // namespace v0
}  // namespace concur
