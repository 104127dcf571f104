// The echo server under load: 1,000 concurrent clients, each sending messages of many
// sizes (partial writes and reads on both sides) and checking every byte that comes
// back; repeated rounds; nothing left open.
#include <concur/net/connect.hpp>
#include <concur/net/server.hpp>
#include <concur/net/stream.hpp>

#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>

#include "support/leak_check.hpp"
#include "support/net_tasks.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <string>
#include <vector>

namespace concur {
namespace {

// The soft limit of open files raised to hold `fds`; false when the hard limit is lower.
bool allow_open_files(rlim_t fds) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= fds) return true;
  if (limit.rlim_max < fds) return false;
  limit.rlim_cur = fds;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

Task<std::size_t> client(std::uint16_t port, int id, int messages) {
  Stream s = co_await open_connection("127.0.0.1", port);
  std::size_t echoed = 0;
  for (int m = 0; m < messages; ++m) {
    // Sizes from 1 byte to 64 KiB: the large ones take several reads and writes.
    const std::size_t size = 1u << ((id + m) % 17);
    std::string message(size, static_cast<char>('a' + (id + m) % 26));
    message.back() = '\n';
    s.write(message);
    co_await s.drain();
    const std::string back = co_await s.read_exactly(size);
    if (back == message) echoed += size;
  }
  s.write_eof();
  const std::string rest = co_await s.read_to_end(1);
  EXPECT_TRUE(rest.empty());
  co_return echoed;
}

Task<void> round(std::size_t clients, int messages) {
  const ServerOptions options{.backlog = 2048};  // named: g++ 12 mishandles braced aggregates in co_await
  Server server = co_await start_server(test::echo, "127.0.0.1", 0, options);
  std::vector<Task<std::size_t>> tasks;
  std::size_t expected = 0;
  for (std::size_t i = 0; i < clients; ++i) {
    tasks.push_back(client(server.port(), static_cast<int>(i), messages));
    for (int m = 0; m < messages; ++m) expected += 1u << ((i + static_cast<std::size_t>(m)) % 17);
  }
  const std::vector<std::size_t> echoed = co_await gather(std::move(tasks));
  std::size_t total = 0;
  for (std::size_t e : echoed) total += e;
  EXPECT_EQ(total, expected) << "bytes that came back intact";
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(co_await test::handles_left_open(), 0u);
}

TEST(EchoStress, AThousandConcurrentClients) {
  if (!allow_open_files(4096)) GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is below 4096: 1,000 clients need 2,000 fds";
  { EventLoop first; }
  test::NoLeaks no_leaks;
  const std::size_t rounds = test::scaled(3);
  for (std::size_t r = 0; r < rounds; ++r) run(round(1000, 4));
}

}  // namespace
}  // namespace concur
