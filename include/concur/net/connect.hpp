// open_connection(host, port): a TCP connection on the event loop (Python:
// asyncio.open_connection).
//
//   concur::Stream s = co_await concur::open_connection("localhost", 8080, 5s);
//
// The host is resolved (see resolve.hpp) and its addresses are tried in order; the
// first that accepts wins. When none does, ConnectionError names the host, the address
// tried last and the reason ("connection refused (ECONNREFUSED)"). The timeout covers
// the resolution and every attempt: past it, TimeoutError. TCP_NODELAY is set, as
// asyncio does. Cancelling the task abandons the attempt and closes its socket.
// Thread safety: loop-thread only.
#pragma once

#include <concur/export.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/resolve.hpp>
#include <concur/net/stream.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace concur {
inline namespace v0 {

CONCUR_EXPORT Task<Stream> open_connection(std::string host, std::uint16_t port,
                                           std::chrono::nanoseconds timeout = no_timeout);

}  // namespace v0
}  // namespace concur
