#include <concur/net/server.hpp>

#include "stream_core.hpp"

#include <concur/core/unhandled_exception.hpp>
#include <concur/loop/spawn.hpp>

#include <stdexcept>
#include <unordered_map>

namespace concur {
inline namespace v0 {
namespace detail {

// Shared by the Server, every running handler and (through `hold`) libuv's listener.
struct ServerCore final : LoopResource, std::enable_shared_from_this<ServerCore> {
  static constexpr std::size_t kept_failures = 100;

  uv_tcp_t listener{};
  EventLoop* loop = nullptr;
  ConnectionHandler handler;
  ServerOptions options;
  std::unordered_map<std::uint64_t, TaskHandle<void>> running;
  std::uint64_t next_id = 0;
  std::vector<std::exception_ptr> failures;  // the first kept_failures
  std::size_t connections_served = 0;
  std::vector<Wakeup*> idle_waiters;
  bool closing = false;
  bool listener_closed = false;
  std::shared_ptr<ServerCore> hold;  // this, while libuv holds the listener

  void close_now() noexcept override { begin_close(); }
  void begin_close() noexcept {
    if (closing) return;
    closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), [](uv_handle_t* handle) {
      auto* core = static_cast<ServerCore*>(handle->data);
      core->listener_closed = true;
      core->loop->untrack(*core);
      const std::shared_ptr<ServerCore> last = std::move(core->hold);  // may be the last reference
      core->wake_if_idle();
    });
  }
  bool idle() const noexcept { return closing && listener_closed && running.empty(); }
  void wake_if_idle() noexcept {
    if (!idle()) return;
    std::vector<Wakeup*> waiters = std::move(idle_waiters);
    idle_waiters.clear();
    for (Wakeup* w : waiters) w->wake();
  }
  void record(std::exception_ptr failure) {
    if (options.on_handler_error) {
      try {
        options.on_handler_error(failure);
      } catch (...) {
        report_unhandled_exception(std::current_exception(), "a Server's on_handler_error");
      }
    } else if (failures.size() < kept_failures) {
      failures.push_back(std::move(failure));
    } else {
      report_unhandled_exception(std::move(failure), "a Server connection handler");
    }
  }
  ~ServerCore() override {  // failures nobody collected with wait_closed()
    for (auto& failure : failures) report_unhandled_exception(std::move(failure), "a Server connection handler");
  }
};

}  // namespace detail

namespace {

using detail::ServerCore;

Task<void> serve_connection(std::shared_ptr<ServerCore> server, std::uint64_t id, Stream stream) {
  try {
    co_await server->handler(std::move(stream));
  } catch (const CancelledError&) {
    // cancel_handlers() or the end of the loop: asked for, not a failure.
  } catch (...) {
    server->record(std::current_exception());
  }
  server->running.erase(id);
  server->wake_if_idle();
}

void on_connection(uv_stream_t* listener, int status) {
  auto* server = static_cast<ServerCore*>(listener->data);
  if (status < 0) {
    server->record(std::make_exception_ptr(
        IoError("concur::Server: accepting a connection failed: " + detail::uv_reason(status), detail::uv_error_code(status))));
    return;
  }
  auto* core = new detail::StreamCore(*server->loop);
  if (const int init = uv_tcp_init(core->uv_loop(), &core->uv.tcp); init < 0) {
    delete core;
    server->record(std::make_exception_ptr(
        IoError("concur::Server: no socket for a new connection: " + detail::uv_reason(init), detail::uv_error_code(init))));
    return;
  }
  core->track();
  Stream stream(core);
  if (uv_accept(listener, &core->uv.stream) < 0) return;  // the peer is gone already
  uv_tcp_nodelay(&core->uv.tcp, 1);
  const std::uint64_t id = server->next_id++;
  ++server->connections_served;
  server->running.emplace(id, spawn_on(*server->loop, serve_connection(server->shared_from_this(), id, std::move(stream))));
}

}  // namespace

Task<Server> start_server(ConnectionHandler handler, std::string host, std::uint16_t port, ServerOptions options) {
  constexpr const char* what = "concur::start_server";
  if (!handler) throw std::invalid_argument(std::string(what) + ": an empty handler");
  if (options.backlog < 1) throw std::invalid_argument(std::string(what) + ": backlog must be at least 1");
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) throw InvalidState(std::string(what) + ": no event loop runs on this thread");
  const std::vector<Endpoint> endpoints = co_await resolve(host, port);
  const Endpoint& endpoint = endpoints.front();
  sockaddr_storage address{};
  if (!detail::to_sockaddr(endpoint, address)) {
    throw std::invalid_argument(std::string(what) + ": cannot use address " + endpoint.to_string());
  }
  auto core = std::make_shared<ServerCore>();
  core->loop = loop;
  core->handler = std::move(handler);
  core->options = std::move(options);
  if (const int status = uv_tcp_init(static_cast<uv_loop_t*>(loop->native()), &core->listener); status < 0) {
    throw IoError(std::string(what) + ": no socket: " + detail::uv_reason(status), detail::uv_error_code(status));
  }
  core->listener.data = core.get();
  core->hold = core;
  loop->track(*core);
  Server server(core);  // closes the listener on every way out
  int status = uv_tcp_bind(&core->listener, reinterpret_cast<sockaddr*>(&address), 0);
  if (status == 0) {
    status = uv_listen(reinterpret_cast<uv_stream_t*>(&core->listener), core->options.backlog, on_connection);
  }
  if (status < 0) {
    throw IoError(std::string(what) + ": cannot listen on " + endpoint.to_string() + ": " + detail::uv_reason(status),
                  detail::uv_error_code(status));
  }
  co_return server;
}

Server::Server(std::shared_ptr<detail::ServerCore> core) noexcept : core_(std::move(core)) {}

Server& Server::operator=(Server&& other) noexcept {
  if (this != &other) {
    close();
    core_ = std::move(other.core_);
  }
  return *this;
}

Server::~Server() { close(); }

std::string Server::local_name() const {
  if (!core_ || core_->closing) return {};
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getsockname(&core_->listener, reinterpret_cast<sockaddr*>(&address), &length) < 0) return {};
  return detail::endpoint_name(reinterpret_cast<sockaddr*>(&address));
}

std::uint16_t Server::port() const {
  if (!core_ || core_->closing) throw InvalidState("concur::Server::port: the server is closed");
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getsockname(&core_->listener, reinterpret_cast<sockaddr*>(&address), &length) < 0) return 0;
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

std::size_t Server::connections() const noexcept { return core_ ? core_->running.size() : 0; }

bool Server::is_serving() const noexcept { return core_ && !core_->closing; }

void Server::close() noexcept {
  if (core_) core_->begin_close();
}

void Server::cancel_handlers() noexcept {
  if (!core_) return;
  for (auto& [id, handle] : core_->running) handle.cancel();
}

Task<void> Server::wait_closed() {
  if (!core_) throw InvalidState("concur::Server::wait_closed: an empty Server");
  const std::shared_ptr<ServerCore> core = core_;
  while (!core->idle()) {
    detail::Wakeup waiter;
    core->idle_waiters.push_back(&waiter);
    co_await waiter.wait(detail::LoopClock::duration::max());
    std::erase(core->idle_waiters, &waiter);
    waiter.throw_if_interrupted("concur::Server::wait_closed");
  }
  if (core->failures.empty()) co_return;
  std::vector<std::exception_ptr> failures = std::move(core->failures);
  core->failures.clear();
  throw ExceptionGroup("concur::Server", core->connections_served, "connection handlers", std::move(failures));
}

}  // namespace v0
}  // namespace concur
