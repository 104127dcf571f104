// resolve(host, port): DNS through libuv's thread pool, without blocking the loop
// (Python: loop.getaddrinfo).
//
//   for (const concur::Endpoint& e : co_await concur::resolve("localhost", 8080))
//     std::cout << e.to_string() << '\n';     // "[::1]:8080", "127.0.0.1:8080"
//
// Results come in the resolver's order (the order connections should try them), without
// duplicates. A numeric address is returned as it is, with no lookup. Failure is a
// ResolveError naming the host and the resolver's reason. Cancelling the task abandons
// the lookup (libuv cancels it if it has not started).
// Thread safety: loop-thread only.
#pragma once

#include <concur/export.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/errors.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace concur {
inline namespace v0 {

enum class AddressFamily { any, ipv4, ipv6 };

// A resolved address: numeric text, port and family.
struct Endpoint {
  std::string address;  // "127.0.0.1", "::1"
  std::uint16_t port = 0;
  AddressFamily family = AddressFamily::ipv4;
  // "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const {
    std::string text;  // appended: g++ 12 -O3 misreports "[" + std::string (-Wrestrict)
    if (family == AddressFamily::ipv6) text.append("[").append(address).append("]");
    else text.append(address);
    return text.append(":").append(std::to_string(port));
  }
  bool operator==(const Endpoint&) const = default;
};

// std::invalid_argument for an empty host; TimeoutError past `timeout`.
CONCUR_EXPORT Task<std::vector<Endpoint>> resolve(std::string host, std::uint16_t port,
                                                  AddressFamily family = AddressFamily::any,
                                                  std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());

}  // namespace v0
}  // namespace concur
