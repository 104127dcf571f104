// The loop's HTTP client: libcurl's multi-socket API with libuv polls for the sockets
// libcurl asks about and one loop timer for the timeout it asks for.
//
// How a request runs: the task configures a Transfer, adds its easy handle to the multi
// handle and waits. libcurl says which sockets to watch (on_socket) and when to call back
// (on_timer); each readiness or timeout drives it with curl_multi_socket_action, and
// finished transfers are collected from curl_multi_info_read, removed from the multi
// handle and their tasks woken. A cancelled task removes its handle, which aborts it.
// libcurl is never re-entered from one of its own callbacks: the timer only arms a loop
// timer, and every curl_multi_* call comes from a loop callback or a task.
//
// Socket watches outlive the transfers: when libcurl stops watching a keep-alive
// connection (CURL_POLL_REMOVE), its poll stays, parked, watching for the server closing
// it, and the next transfer on that connection takes it back without a new poll (each
// poll made and removed costs an ioctl and three epoll_ctl calls, a third of a request's
// system calls on loopback). A parked poll that fires stops; libcurl finds the closed
// connection itself. A watch ends only when libcurl closes its socket (the close-socket
// callback every transfer sets), before the descriptor can be reused.
#include <concur/http/client.hpp>

#include "transfer.hpp"

#include <concur/loop/detail/wakeup.hpp>
#include <concur/loop/event_loop.hpp>

#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <limits>
#include <memory>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace concur {
inline namespace v0 {
namespace http {
namespace detail {

using concur::detail::LoopClock;
using concur::detail::LoopTimer;
using concur::detail::OwnedTimer;
using concur::detail::Wakeup;

struct InFlight {
  std::unique_ptr<Transfer> transfer;
  Wakeup waiter;
  bool done = false;
  CURLcode result = CURLE_OK;
};

struct SocketWatch {
  uv_poll_t poll{};
  struct ClientCore* core = nullptr;
  curl_socket_t fd = CURL_SOCKET_BAD;
  bool parked = false;  // no transfer uses the socket now
  int events = 0;       // what the poll watches (0: stopped)
};

struct ClientCore final : concur::detail::LoopResource {
  EventLoop* loop;
  ClientOptions options;
  CURLM* multi = nullptr;
  OwnedTimer timer;
  bool timer_armed = false;
  bool closed = false;
  std::vector<SocketWatch*> watch_by_fd;  // every watch, at its descriptor's index
  std::unordered_set<curl_socket_t> connection_sockets;  // opened by on_open_socket, not yet closed
  std::vector<std::unique_ptr<Transfer>> idle;  // handles kept for reuse (DNS, TLS sessions)
  std::size_t in_flight = 0;
  std::size_t connections_opened = 0;

  ClientCore(EventLoop& l, ClientOptions o) : loop(&l), options(std::move(o)) {
    ensure_curl_initialised();
    multi = curl_multi_init();
    if (multi == nullptr) throw HttpError("concur::http::Client: libcurl cannot make a multi handle", 0);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &ClientCore::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &ClientCore::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options.max_connections));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options.max_connections_per_host));
    if (options.max_connections > 0) {
      curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options.max_connections));
    }
    timer.owner = this;
    timer.fire = [](LoopTimer& t) noexcept {
      auto* core = static_cast<ClientCore*>(OwnedTimer::owner_of(t));
      core->timer_armed = false;
      core->drive(CURL_SOCKET_TIMEOUT, 0);
    };
    loop->track(*this);
  }

  ~ClientCore() override {
    if (!closed) {
      loop->untrack(*this);
      close_now();
    }
  }

  // Closes every connection; later requests get InvalidState. In-flight requests have
  // been cancelled before (the loop's end cancels tasks first); any left are dropped.
  void close_now() noexcept override {
    if (closed) return;
    closed = true;
    if (timer_armed) {
      loop->remove_timer(timer);
      timer_armed = false;
    }
    curl_multi_cleanup(multi);  // tells on_socket to forget each socket it closes
    multi = nullptr;
    for (SocketWatch* watch : watch_by_fd) {  // forget() empties the entry, never resizes
      if (watch != nullptr) forget(watch);
    }
    idle.clear();
  }

  void drive(curl_socket_t fd, int flags) noexcept {
    if (closed) return;
    int running = 0;
    curl_multi_socket_action(multi, fd, flags, &running);
    collect_done();
  }

  void collect_done() noexcept {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode result = message->data.result;
      Transfer* transfer = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &transfer);
      auto* request = static_cast<InFlight*>(transfer->user);
      curl_multi_remove_handle(multi, easy);  // `message` is gone after this
      request->result = result;
      request->done = true;
      request->waiter.wake();
    }
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void* socket_data) noexcept {
    auto* core = static_cast<ClientCore*>(self);
    auto* watch = static_cast<SocketWatch*>(socket_data);
    if (what == CURL_POLL_REMOVE) {
      if (watch != nullptr) {
        if (core->multi != nullptr) curl_multi_assign(core->multi, fd, nullptr);
        if (core->connection_sockets.contains(fd)) {
          watch->parked = true;
          if ((watch->events & UV_READABLE) == 0) core->poll(*watch, UV_READABLE);  // the server closing it
        } else {
          core->forget(watch);
        }
      }
      return 0;
    }
    if (watch == nullptr) watch = core->watch_of(fd);
    if (watch == nullptr) {
      const auto index = static_cast<std::size_t>(fd);
      try {
        if (core->watch_by_fd.size() <= index) core->watch_by_fd.resize(index + 1, nullptr);
      } catch (...) {
        return -1;  // out of memory: libcurl fails the transfers on this socket
      }
      watch = new (std::nothrow) SocketWatch;
      if (watch == nullptr) return -1;
      if (uv_poll_init_socket(core->uv_loop(), &watch->poll, fd) != 0) {
        delete watch;
        return -1;
      }
      watch->core = core;
      watch->fd = fd;
      watch->poll.data = watch;
      core->watch_by_fd[index] = watch;
    }
    if (watch->parked || socket_data == nullptr) {  // new, or taken back from the parked
      watch->parked = false;
      curl_multi_assign(core->multi, fd, watch);
    }
    int events = 0;
    if ((what & CURL_POLL_IN) != 0) events |= UV_READABLE;
    if ((what & CURL_POLL_OUT) != 0) events |= UV_WRITABLE;
    core->poll(*watch, events);
    return 0;
  }

  // libuv's uv_poll_start removes the descriptor from epoll and adds it again, whatever
  // it watched before: an unchanged watch is left alone.
  void poll(SocketWatch& watch, int events) noexcept {
    if (events == watch.events) return;
    watch.events = events;
    uv_poll_start(&watch.poll, events, [](uv_poll_t* handle, int status, int ready) {
      auto* w = static_cast<SocketWatch*>(handle->data);
      if (w->parked) {  // the idle connection closed (or spoke): libcurl will see at reuse
        uv_poll_stop(handle);
        w->events = 0;
        return;
      }
      int flags = 0;
      if (status < 0) {
        flags = CURL_CSELECT_ERR;
      } else {
        if ((ready & UV_READABLE) != 0) flags |= CURL_CSELECT_IN;
        if ((ready & UV_WRITABLE) != 0) flags |= CURL_CSELECT_OUT;
      }
      w->core->drive(w->fd, flags);
    });
  }

  SocketWatch* watch_of(curl_socket_t fd) const noexcept {
    const auto index = static_cast<std::size_t>(fd);
    return fd >= 0 && index < watch_by_fd.size() ? watch_by_fd[index] : nullptr;
  }

  // libcurl opens a connection's socket (close-on-exec, as every concur descriptor).
  static curl_socket_t on_open_socket(void* self, curlsocktype, curl_sockaddr* address) noexcept {
    auto* core = static_cast<ClientCore*>(self);
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    try {
      core->connection_sockets.insert(fd);
    } catch (...) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    return fd;
  }

  // libcurl closes a connection's socket: its watch goes first, while the descriptor
  // still names that socket.
  static int on_close_socket(void* self, curl_socket_t fd) noexcept {
    auto* core = static_cast<ClientCore*>(self);
    core->connection_sockets.erase(fd);
    if (SocketWatch* watch = core->watch_of(fd)) core->forget(watch);
    return ::close(fd);
  }

  static int on_timer(CURLM*, long timeout_ms, void* self) noexcept {
    auto* core = static_cast<ClientCore*>(self);
    if (core->timer_armed) {
      core->loop->remove_timer(core->timer);
      core->timer_armed = false;
    }
    if (timeout_ms < 0) return 0;
    core->timer.deadline = LoopClock::now() + std::chrono::milliseconds(timeout_ms);
    core->loop->add_timer(core->timer);
    core->timer_armed = true;
    return 0;
  }

  void forget(SocketWatch* watch) noexcept {
    if (watch_of(watch->fd) == watch) watch_by_fd[static_cast<std::size_t>(watch->fd)] = nullptr;
    uv_poll_stop(&watch->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll),
             [](uv_handle_t* handle) { delete static_cast<SocketWatch*>(handle->data); });
  }

  uv_loop_t* uv_loop() const noexcept { return static_cast<uv_loop_t*>(loop->native()); }

  std::unique_ptr<Transfer> take_transfer() {
    if (idle.empty()) return std::make_unique<Transfer>();
    std::unique_ptr<Transfer> t = std::move(idle.back());
    idle.pop_back();
    return t;
  }
  void give_back(std::unique_ptr<Transfer> t) noexcept {
    if (closed || idle.size() >= 64) return;
    t->reset();
    try {
      idle.push_back(std::move(t));
    } catch (...) {  // out of memory: the handle is simply not kept
    }
  }
};

namespace {

// Removes a request's handle from libcurl if it is still there, and recycles it.
struct InFlightGuard {
  ClientCore& core;
  InFlight& request;
  bool added = false;
  ~InFlightGuard() {
    if (added) {
      --core.in_flight;
      if (!request.done && core.multi != nullptr) curl_multi_remove_handle(core.multi, request.transfer->easy());
    }
    core.give_back(std::move(request.transfer));
  }
};

Task<Response> perform(std::shared_ptr<ClientCore> core, std::string method, std::string url, std::string body,
                       RequestOptions options) {
  if (EventLoop::current() != core->loop) {
    throw InvalidState("concur::http::Client: used on a thread other than its loop's");
  }
  if (core->closed) throw InvalidState("concur::http::Client: its loop has closed it");
  InFlight request;
  request.transfer = core->take_transfer();
  InFlightGuard guard{*core, request};
  Transfer& transfer = *request.transfer;
  if (transfer.configure(std::move(method), std::move(url), std::move(body), options)) {
    // A handle of this client's: it keeps these until configure() resets it.
    curl_easy_setopt(transfer.easy(), CURLOPT_OPENSOCKETFUNCTION, &ClientCore::on_open_socket);
    curl_easy_setopt(transfer.easy(), CURLOPT_OPENSOCKETDATA, core.get());
    curl_easy_setopt(transfer.easy(), CURLOPT_CLOSESOCKETFUNCTION, &ClientCore::on_close_socket);
    curl_easy_setopt(transfer.easy(), CURLOPT_CLOSESOCKETDATA, core.get());
  }
  transfer.user = &request;
  if (const CURLMcode code = curl_multi_add_handle(core->multi, transfer.easy()); code != CURLM_OK) {
    throw HttpError("concur::http: " + transfer.what() + ": " + curl_multi_strerror(code),
                    static_cast<int>(code));
  }
  guard.added = true;
  ++core->in_flight;
  co_await request.waiter.wait(LoopClock::duration::max());
  request.waiter.throw_if_interrupted("concur::http::Client");  // cancelled: the guard aborts it
  core->connections_opened += static_cast<std::size_t>(transfer.connections_opened());
  co_return transfer.finish(request.result);
}

}  // namespace
}  // namespace detail

namespace {
void check(const ClientOptions& options) {
  if (options.defaults.max_redirects < 0 || options.defaults.max_body_size == 0) {
    throw std::invalid_argument("concur::http::Client: bad default request options (max_redirects < 0 or "
                                "max_body_size == 0)");
  }
  constexpr std::size_t long_max = static_cast<std::size_t>(std::numeric_limits<long>::max());
  if (options.max_connections > long_max || options.max_connections_per_host > long_max) {
    throw std::invalid_argument("concur::http::Client: a connection limit out of range");
  }
}
}  // namespace

Client::Client() : Client(ClientOptions()) {}

Client::Client(ClientOptions options) {
  check(options);
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) throw InvalidState("concur::http::Client: no event loop runs on this thread");
  core_ = std::make_shared<detail::ClientCore>(*loop, std::move(options));
}

Client::~Client() = default;

Task<Response> Client::get(std::string url) { return get(std::move(url), options().defaults); }
Task<Response> Client::get(std::string url, RequestOptions options) {
  return request("GET", std::move(url), std::string(), std::move(options));
}
Task<Response> Client::post(std::string url, std::string body, std::string content_type) {
  return post(std::move(url), std::move(body), std::move(content_type), options().defaults);
}
Task<Response> Client::post(std::string url, std::string body, std::string content_type, RequestOptions options) {
  if (!content_type.empty()) options.headers.set("Content-Type", std::move(content_type));
  return request("POST", std::move(url), std::move(body), std::move(options));
}
Task<Response> Client::request(std::string method, std::string url, std::string body, RequestOptions options) {
  if (!core_) throw InvalidState("concur::http::Client: used after it was moved from");
  return detail::perform(core_, std::move(method), std::move(url), std::move(body), std::move(options));
}

const ClientOptions& Client::options() const {
  if (!core_) throw InvalidState("concur::http::Client: used after it was moved from");
  return core_->options;
}
std::size_t Client::in_flight() const noexcept { return core_ ? core_->in_flight : 0; }
std::size_t Client::connections_opened() const noexcept { return core_ ? core_->connections_opened : 0; }

}  // namespace http
}  // namespace v0
}  // namespace concur
