#include <concur/net/connect.hpp>

#include "stream_core.hpp"

#include <memory>
#include <stdexcept>

namespace concur {
inline namespace v0 {
namespace detail {

bool to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out) {
  if (endpoint.family == AddressFamily::ipv6) {
    return uv_ip6_addr(endpoint.address.c_str(), endpoint.port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
  }
  return uv_ip4_addr(endpoint.address.c_str(), endpoint.port, reinterpret_cast<sockaddr_in*>(&out)) == 0;
}

}  // namespace detail

namespace {

struct ConnectRequest : detail::AbandonableRequest {
  uv_connect_t request{};
};

// One attempt: 0 and the stream, or the libuv error.
Task<int> connect_to(const Endpoint& endpoint, Stream& out, detail::LoopClock::time_point deadline,
                     std::chrono::nanoseconds timeout) {
  EventLoop& loop = *EventLoop::current();
  sockaddr_storage address{};
  if (!detail::to_sockaddr(endpoint, address)) co_return UV_EINVAL;
  auto* core = new detail::StreamCore(loop);
  if (const int status = uv_tcp_init(core->uv_loop(), &core->uv.tcp); status < 0) {
    delete core;
    co_return status;
  }
  core->track();
  Stream stream(core);  // closes the socket on every way out
  auto request = std::make_unique<ConnectRequest>();
  detail::Wakeup waiter;
  request->waiter = &waiter;
  request->request.data = request.get();
  const int status = uv_tcp_connect(&request->request, &core->uv.tcp, reinterpret_cast<sockaddr*>(&address),
                                    [](uv_connect_t* req, int result) {
                                      detail::AbandonableRequest::complete(static_cast<ConnectRequest*>(req->data),
                                                                           result);
                                    });
  if (status < 0) co_return status;
  co_await waiter.wait_until(deadline);
  if (!request->completed) {  // cancelled or timed out: closing the socket ends the request
    request->abandoned = true;
    (void)request.release();
  }
  waiter.throw_if_interrupted("concur::open_connection", timeout);
  if (request->status < 0) co_return request->status;
  uv_tcp_nodelay(&core->uv.tcp, 1);
  out = std::move(stream);
  co_return 0;
}

}  // namespace

Task<Stream> open_connection(std::string host, std::uint16_t port, std::chrono::nanoseconds timeout) {
  if (EventLoop::current() == nullptr) throw InvalidState("concur::open_connection: no event loop runs on this thread");
  if (timeout < std::chrono::nanoseconds::zero()) throw std::invalid_argument("concur::open_connection: a negative timeout");
  const auto deadline = detail::deadline_after(timeout);
  const std::vector<Endpoint> endpoints = co_await resolve(host, port, AddressFamily::any, timeout);
  int last_status = 0;
  const Endpoint* last = nullptr;
  for (const Endpoint& endpoint : endpoints) {
    Stream stream;
    last_status = co_await connect_to(endpoint, stream, deadline, timeout);
    if (last_status == 0) co_return stream;
    last = &endpoint;
  }
  std::string message = "concur::open_connection: cannot connect to " + host + " port " + std::to_string(port);
  if (last != nullptr && last->address != host) message += " (" + last->to_string() + ")";
  throw ConnectionError(message + ": " + detail::uv_reason(last_status), detail::uv_error_code(last_status));
}

}  // namespace v0
}  // namespace concur
