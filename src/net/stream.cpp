#include <concur/net/stream.hpp>

#include "stream_core.hpp"

#include <signal.h>

#include <algorithm>
#include <csignal>
#include <stdexcept>
#include <string>

namespace concur {
inline namespace v0 {
namespace detail {

std::string uv_reason(int status) {
  std::string reason = uv_strerror(status);
  reason.append(" (").append(uv_err_name(status)).append(")");
  return reason;
}

std::error_code uv_error_code(int status) { return {-status, std::generic_category()}; }

std::string endpoint_name(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    uv_ip4_name(in, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    uv_ip6_name(in6, text, sizeof text);
    std::string name = "[";  // appended: g++ 12 -O3 misreports "[" + std::string (-Wrestrict)
    name.append(text).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
    return name;
  }
  return {};
}

void ignore_sigpipe() noexcept {
  // Writing to a closed socket or pipe raises SIGPIPE, whose default kills the
  // process; with it ignored the write fails with EPIPE (Python and Node do the same).
  static const bool ignored = [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)ignored;
}

namespace {

struct WriteRequest {
  uv_write_t request{};
  StreamCore* core = nullptr;
  std::string bytes;
};

struct ShutdownRequest {
  uv_shutdown_t request{};
  StreamCore* core = nullptr;
};

void on_closed(uv_handle_t* handle) {
  auto* core = static_cast<StreamCore*>(handle->data);
  core->handle_closed = true;
  core->loop->untrack(*core);
  std::vector<Wakeup*> waiters = std::move(core->close_waiters);
  for (Wakeup* w : waiters) w->wake();
  if (!core->owner_alive) delete core;
}

void wake_all(std::vector<Wakeup*>& waiters) noexcept {
  std::vector<Wakeup*> woken = std::move(waiters);
  waiters.clear();
  for (Wakeup* w : woken) w->wake();
}

void on_shutdown(uv_shutdown_t* request, int status) {
  auto* shutdown = static_cast<ShutdownRequest*>(request->data);
  StreamCore* core = shutdown->core;
  delete shutdown;
  core->shutdown_pending = false;
  if (status < 0 && status != UV_ECANCELED && core->write_status == 0) core->write_status = status;
  if (core->close_after_shutdown && !uv_is_closing(&core->uv.handle)) uv_close(&core->uv.handle, on_closed);
}

// Starts a shutdown (the end of the queued writes); false when libuv refused it.
bool start_shutdown(StreamCore& core) {
  auto* shutdown = new ShutdownRequest{};
  shutdown->core = &core;
  shutdown->request.data = shutdown;
  if (uv_shutdown(&shutdown->request, &core.uv.stream, on_shutdown) < 0) {
    delete shutdown;
    return false;
  }
  core.shutdown_pending = true;
  return true;
}

}  // namespace

void StreamCore::want_input() {
  if (reading || eof || read_status != 0 || close_started) return;
  if (input.size() >= std::max(read_high_water, reader_wants)) return;
  const int status = uv_read_start(
      &uv.stream,
      [](uv_handle_t* handle, std::size_t, uv_buf_t* buffer) {
        *buffer = static_cast<StreamCore*>(handle->data)->input.space(64 * 1024);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
        auto* core = static_cast<StreamCore*>(stream->data);
        if (nread > 0) {
          core->input.commit(static_cast<std::size_t>(nread));
          const std::size_t limit = std::max(read_high_water, core->reader != nullptr ? core->reader_wants : 0);
          if (core->input.size() >= limit) {
            uv_read_stop(stream);
            core->reading = false;
          }
          if (core->input.size() >= core->reader_wants) core->wake_reader();
        } else if (nread < 0) {
          uv_read_stop(stream);
          core->reading = false;
          if (nread == UV_EOF) {
            core->eof = true;
          } else {
            core->read_status = static_cast<int>(nread);
          }
          core->wake_reader();
        }
      });
  if (status < 0) {
    read_status = status;
  } else {
    reading = true;
  }
}

void StreamCore::wake_reader() noexcept {
  if (reader == nullptr) return;
  Wakeup* w = reader;
  reader = nullptr;
  w->wake();
}

void StreamCore::begin_close() noexcept {
  if (close_started) return;
  close_started = true;
  if (reading) {
    uv_read_stop(&uv.stream);
    reading = false;
  }
  wake_reader();
  wake_all(drainers);
  // Queued writes are still sent: close once the shutdown (which waits for them) ends.
  if (write_queued > 0 && write_status == 0 && (shutdown_pending || (!eof_sent && start_shutdown(*this)))) {
    close_after_shutdown = true;
    return;
  }
  uv_close(&uv.handle, on_closed);
}

void StreamCore::close_now() noexcept {
  begin_close();
  if (!uv_is_closing(&uv.handle)) uv_close(&uv.handle, on_closed);
}

void StreamCore::release() noexcept {
  owner_alive = false;
  begin_close();
  if (handle_closed) delete this;
}

}  // namespace detail

namespace {

using detail::StreamCore;

bool satisfied(const StreamCore& core, std::size_t want) noexcept {
  return core.input.size() >= want || core.eof || core.read_status != 0 || core.close_started;
}

// co_await Fill(...): suspends until `core` holds `want` bytes, the end, an error or a
// close, or the deadline passes (TimeoutError) or the task is cancelled. An awaiter,
// not a coroutine: a read that waits allocates nothing for the wait. One wake is
// enough: the core wakes its reader exactly when `satisfied` turns true.
class Fill {
 public:
  Fill(StreamCore& core, std::size_t want, detail::LoopClock::time_point deadline, std::chrono::nanoseconds timeout,
       const char* what) noexcept
      : core_(core), want_(want), deadline_(deadline), timeout_(timeout), what_(what) {}

  bool await_ready() const noexcept { return satisfied(core_, want_); }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> handle) {
    if (core_.reader != nullptr) {
      throw InvalidState(std::string(what_) + ": another task is already reading this stream");
    }
    core_.reader_wants = want_;
    core_.want_input();
    if (satisfied(core_, want_)) {
      core_.reader_wants = 1;
      return false;
    }
    core_.reader = &wakeup_;
    return wakeup_.wait_until(deadline_).await_suspend(handle);
  }
  void await_resume() {
    if (core_.reader == &wakeup_) core_.reader = nullptr;
    core_.reader_wants = 1;
    wakeup_.throw_if_interrupted(what_, timeout_);
  }

 private:
  StreamCore& core_;
  std::size_t want_;
  detail::LoopClock::time_point deadline_;
  std::chrono::nanoseconds timeout_;
  const char* what_;
  detail::Wakeup wakeup_;
};

detail::LoopClock::time_point checked_deadline(std::chrono::nanoseconds timeout) {
  if (timeout < std::chrono::nanoseconds::zero()) throw std::invalid_argument("concur::Stream: a negative timeout");
  return detail::deadline_after(timeout);
}

// Why a read cannot go on (called when the buffer does not satisfy it and it is not EOF).
[[noreturn]] void throw_broken(const StreamCore& core, const char* what) {
  if (core.read_status != 0) {
    throw ConnectionError(std::string(what) + ": " + detail::uv_reason(core.read_status),
                          detail::uv_error_code(core.read_status));
  }
  throw ConnectionError(std::string(what) + ": the stream was closed", std::make_error_code(std::errc::not_connected));
}

}  // namespace

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (core_ != nullptr) core_->release();
    core_ = std::exchange(other.core_, nullptr);
  }
  return *this;
}

Stream::~Stream() {
  if (core_ != nullptr) core_->release();
}

detail::StreamCore& Stream::live(const char* what) const {
  if (core_ == nullptr) throw InvalidState(std::string(what) + ": an empty Stream");
  return *core_;
}

Task<std::string> Stream::read_some(std::size_t max, std::chrono::nanoseconds timeout) {
  StreamCore& core = live("concur::Stream::read_some");
  if (max == 0) throw std::invalid_argument("concur::Stream::read_some: max must be at least 1");
  co_await Fill(core, 1, checked_deadline(timeout), timeout, "concur::Stream::read_some");
  if (core.input.size() > 0) co_return core.input.take(std::min(max, core.input.size()));
  if (core.eof) co_return std::string();
  throw_broken(core, "concur::Stream::read_some");
}

Task<std::string> Stream::read_exactly(std::size_t n, std::chrono::nanoseconds timeout) {
  StreamCore& core = live("concur::Stream::read_exactly");
  co_await Fill(core, n, checked_deadline(timeout), timeout, "concur::Stream::read_exactly");
  if (core.input.size() >= n) co_return core.input.take(n);
  if (core.eof) {
    std::string partial = core.input.take(core.input.size());
    const std::string message = "concur::Stream::read_exactly: the stream ended after " +
                                std::to_string(partial.size()) + " of " + std::to_string(n) + " bytes";
    throw IncompleteReadError(message, std::move(partial), n);
  }
  throw_broken(core, "concur::Stream::read_exactly");
}

Task<std::string> Stream::read_until(std::string delimiter, std::size_t max, std::chrono::nanoseconds timeout) {
  constexpr const char* what = "concur::Stream::read_until";
  StreamCore& core = live(what);
  if (delimiter.empty()) throw std::invalid_argument("concur::Stream::read_until: an empty delimiter");
  const auto deadline = checked_deadline(timeout);
  std::size_t searched = 0;  // bytes known to hold no delimiter start
  for (;;) {
    const std::string_view data = core.input.view();
    const std::size_t at = data.find(delimiter, searched);
    if (at != std::string_view::npos) {
      const std::size_t length = at + delimiter.size();
      if (length > max) break;
      co_return core.input.take(length);
    }
    if (data.size() >= max) break;
    searched = data.size() >= delimiter.size() ? data.size() - delimiter.size() + 1 : 0;
    if (core.eof) {
      std::string partial = core.input.take(core.input.size());
      const std::string message = std::string(what) + ": the stream ended before the delimiter (" +
                                  std::to_string(partial.size()) + " bytes read)";
      throw IncompleteReadError(message, std::move(partial), max);
    }
    if (core.read_status != 0 || core.close_started) throw_broken(core, what);
    co_await Fill(core, data.size() + 1, deadline, timeout, what);
  }
  throw LimitOverrunError(std::string(what) + ": no delimiter within " + std::to_string(max) + " bytes",
                          core.input.size());
}

Task<std::string> Stream::read_line(std::size_t max, std::chrono::nanoseconds timeout) {
  return read_until("\n", max, timeout);
}

Task<std::string> Stream::read_to_end(std::size_t max, std::chrono::nanoseconds timeout) {
  constexpr const char* what = "concur::Stream::read_to_end";
  StreamCore& core = live(what);
  const auto deadline = checked_deadline(timeout);
  while (!core.eof) {
    if (core.input.size() > max) {
      throw LimitOverrunError(std::string(what) + ": more than " + std::to_string(max) + " bytes before the end",
                              core.input.size());
    }
    if (core.read_status != 0 || core.close_started) throw_broken(core, what);
    co_await Fill(core, core.input.size() + 1, deadline, timeout, what);
  }
  if (core.input.size() > max) {
    throw LimitOverrunError(std::string(what) + ": more than " + std::to_string(max) + " bytes before the end",
                            core.input.size());
  }
  co_return core.input.take(core.input.size());
}

bool Stream::at_eof() const noexcept { return core_ != nullptr && core_->eof && core_->input.size() == 0; }

std::size_t Stream::buffered() const noexcept { return core_ == nullptr ? 0 : core_->input.size(); }

void Stream::write(std::string_view data) {
  constexpr const char* what = "concur::Stream::write";
  StreamCore& core = live(what);
  if (core.close_started) {
    throw ConnectionError(std::string(what) + ": the stream is closed", std::make_error_code(std::errc::not_connected));
  }
  if (core.eof_sent) {
    throw ConnectionError(std::string(what) + ": after write_eof", std::make_error_code(std::errc::broken_pipe));
  }
  if (core.write_status != 0) {
    throw ConnectionError(std::string(what) + ": " + detail::uv_reason(core.write_status),
                          detail::uv_error_code(core.write_status));
  }
  if (data.empty()) return;
  if (core.write_queued == 0) {  // nothing ahead of it: try to send at once
    uv_buf_t buffer = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    const int sent = uv_try_write(&core.uv.stream, &buffer, 1);
    if (sent >= 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      if (data.empty()) return;
    } else if (sent != UV_EAGAIN) {
      core.write_status = sent;
      throw ConnectionError(std::string(what) + ": " + detail::uv_reason(sent), detail::uv_error_code(sent));
    }
  }
  auto* request = new detail::WriteRequest{};
  request->core = &core;
  request->bytes.assign(data);
  request->request.data = request;
  uv_buf_t buffer = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  const int status = uv_write(&request->request, &core.uv.stream, &buffer, 1, [](uv_write_t* req, int result) {
    auto* done = static_cast<detail::WriteRequest*>(req->data);
    StreamCore* owner = done->core;
    owner->write_queued -= done->bytes.size();
    delete done;
    if (result < 0 && result != UV_ECANCELED && owner->write_status == 0) owner->write_status = result;
    if (owner->write_queued <= StreamCore::write_low_water || owner->write_status != 0) detail::wake_all(owner->drainers);
  });
  if (status < 0) {
    delete request;
    core.write_status = status;
    throw ConnectionError(std::string(what) + ": " + detail::uv_reason(status), detail::uv_error_code(status));
  }
  core.write_queued += data.size();
}

Task<void> Stream::drain(std::chrono::nanoseconds timeout) {
  constexpr const char* what = "concur::Stream::drain";
  StreamCore& core = live(what);
  if (core.write_queued > StreamCore::write_high_water && core.write_status == 0 && !core.close_started) {
    detail::Wakeup waiter;
    core.drainers.push_back(&waiter);
    co_await waiter.wait(timeout);
    std::erase(core.drainers, &waiter);
    waiter.throw_if_interrupted(what, timeout);
  }
  if (core.write_status != 0) {
    throw ConnectionError(std::string(what) + ": " + detail::uv_reason(core.write_status),
                          detail::uv_error_code(core.write_status));
  }
}

std::size_t Stream::write_queued() const noexcept { return core_ == nullptr ? 0 : core_->write_queued; }

void Stream::write_eof() {
  StreamCore& core = live("concur::Stream::write_eof");
  if (core.eof_sent || core.close_started) return;
  core.eof_sent = true;
  if (!detail::start_shutdown(core)) {
    throw ConnectionError("concur::Stream::write_eof: the stream cannot be shut down",
                          std::make_error_code(std::errc::not_connected));
  }
}

void Stream::close() noexcept {
  if (core_ != nullptr) core_->begin_close();
}

void Stream::abort() noexcept {
  if (core_ != nullptr) core_->close_now();
}

bool Stream::is_closing() const noexcept { return core_ == nullptr || core_->close_started; }

Task<void> Stream::wait_closed() {
  StreamCore& core = live("concur::Stream::wait_closed");
  if (!core.close_started) throw InvalidState("concur::Stream::wait_closed: close() was not called");
  if (core.handle_closed) co_return;
  detail::Wakeup waiter;
  core.close_waiters.push_back(&waiter);
  co_await waiter.wait(detail::LoopClock::duration::max());
  std::erase(core.close_waiters, &waiter);
  waiter.throw_if_interrupted("concur::Stream::wait_closed");
}

std::string Stream::peer_name() const {
  StreamCore& core = live("concur::Stream::peer_name");
  if (core.uv.handle.type != UV_TCP || core.close_started) return {};
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getpeername(&core.uv.tcp, reinterpret_cast<sockaddr*>(&address), &length) < 0) return {};
  return detail::endpoint_name(reinterpret_cast<sockaddr*>(&address));
}

std::string Stream::local_name() const {
  StreamCore& core = live("concur::Stream::local_name");
  if (core.uv.handle.type != UV_TCP || core.close_started) return {};
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getsockname(&core.uv.tcp, reinterpret_cast<sockaddr*>(&address), &length) < 0) return {};
  return detail::endpoint_name(reinterpret_cast<sockaddr*>(&address));
}

}  // namespace v0
}  // namespace concur
