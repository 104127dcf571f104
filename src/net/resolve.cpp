#include <concur/net/resolve.hpp>

#include "stream_core.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace concur {
inline namespace v0 {
namespace {

struct ResolveRequest : detail::AbandonableRequest {
  uv_getaddrinfo_t request{};
  std::vector<Endpoint> endpoints;
};

int to_af(AddressFamily family) {
  switch (family) {
    case AddressFamily::ipv4: return AF_INET;
    case AddressFamily::ipv6: return AF_INET6;
    case AddressFamily::any: break;
  }
  return AF_UNSPEC;
}

Endpoint to_endpoint(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    uv_ip6_name(in6, text, sizeof text);
    return Endpoint{text, ntohs(in6->sin6_port), AddressFamily::ipv6};
  }
  const auto* in = reinterpret_cast<const sockaddr_in*>(address);
  uv_ip4_name(in, text, sizeof text);
  return Endpoint{text, ntohs(in->sin_port), AddressFamily::ipv4};
}

void on_resolved(uv_getaddrinfo_t* request, int status, addrinfo* result) {
  auto* r = static_cast<ResolveRequest*>(request->data);
  for (const addrinfo* a = result; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    Endpoint e = to_endpoint(a->ai_addr);
    if (std::find(r->endpoints.begin(), r->endpoints.end(), e) == r->endpoints.end()) r->endpoints.push_back(e);
  }
  uv_freeaddrinfo(result);
  detail::AbandonableRequest::complete(r, status);
}

}  // namespace

Task<std::vector<Endpoint>> resolve(std::string host, std::uint16_t port, AddressFamily family,
                                    std::chrono::nanoseconds timeout) {
  if (host.empty()) throw std::invalid_argument("concur::resolve: an empty host name");
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) throw InvalidState("concur::resolve: no event loop runs on this thread");
  // A numeric address of the wanted family needs no lookup.
  sockaddr_in in{};
  sockaddr_in6 in6{};
  if (family != AddressFamily::ipv6 && uv_ip4_addr(host.c_str(), port, &in) == 0) {
    co_return std::vector<Endpoint>{to_endpoint(reinterpret_cast<sockaddr*>(&in))};
  }
  if (family != AddressFamily::ipv4 && uv_ip6_addr(host.c_str(), port, &in6) == 0) {
    co_return std::vector<Endpoint>{to_endpoint(reinterpret_cast<sockaddr*>(&in6))};
  }
  auto request = std::make_unique<ResolveRequest>();
  detail::Wakeup waiter;
  request->waiter = &waiter;
  request->request.data = request.get();
  addrinfo hints{};
  hints.ai_family = to_af(family);
  hints.ai_socktype = SOCK_STREAM;
  const std::string service = std::to_string(port);
  const int status = uv_getaddrinfo(static_cast<uv_loop_t*>(loop->native()), &request->request, on_resolved,
                                    host.c_str(), service.c_str(), &hints);
  if (status < 0) {
    throw ResolveError("concur::resolve: cannot resolve '" + host + "': " + detail::uv_reason(status),
                       detail::uv_error_code(status));
  }
  co_await waiter.wait(timeout);
  if (waiter.state() != detail::Wakeup::State::woken) {
    if (!request->completed) {
      // The callback still comes (with UV_EAI_CANCELED when libuv could cancel it).
      request->abandoned = true;
      uv_cancel(reinterpret_cast<uv_req_t*>(&request->request));
      (void)request.release();
    }
    waiter.throw_if_interrupted("concur::resolve");
  }
  if (request->status < 0) {
    throw ResolveError("concur::resolve: cannot resolve '" + host + "': " + detail::uv_reason(request->status),
                       detail::uv_error_code(request->status));
  }
  if (request->endpoints.empty()) {
    throw ResolveError("concur::resolve: '" + host + "' has no IPv4 or IPv6 address",
                       std::make_error_code(std::errc::address_not_available));
  }
  co_return std::move(request->endpoints);
}

}  // namespace v0
}  // namespace concur
