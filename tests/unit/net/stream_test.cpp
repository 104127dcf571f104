// TCP streams and servers on the loop: echo, partial reads and writes, the peer closing
// mid-read, refused connections, read timeouts, line limits, backpressure, cancellation,
// graceful server close and handler failures; no handle, fd or task left.
#include <concur/net/connect.hpp>
#include <concur/net/resolve.hpp>
#include <concur/net/server.hpp>
#include <concur/net/stream.hpp>

#include <concur/loop/event.hpp>
#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include "support/leak_check.hpp"
#include "support/net_tasks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Task<std::string> echo_once(std::string message) {
  Server server = co_await start_server(test::echo, "127.0.0.1", 0);
  Stream client = co_await open_connection("127.0.0.1", server.port());
  client.write(message);
  client.write_eof();
  std::string back = co_await client.read_to_end(1 << 20);
  client.close();
  server.close();
  co_await server.wait_closed();
  co_await client.wait_closed();
  EXPECT_EQ(co_await test::handles_left_open(), 0u);
  co_return back;
}

TEST(Stream, EchoesAndLeavesNothingOpen) {
  { EventLoop first; }  // libuv's process-wide signal pipe, opened once
  test::NoLeaks no_leaks;
  EXPECT_EQ(run(echo_once("hello, loop")), "hello, loop");
}

Task<void> reads_in_pieces() {
  // The client sends "ab", "cdef\n", "gh", "ijklmnop" with turns between; the server's
  // reads assemble them however they arrive.
  std::vector<std::string> seen;
  Server server = co_await start_server(
      [&seen](Stream s) -> Task<void> {
        seen.push_back(co_await s.read_exactly(3));        // "abc"
        seen.push_back(co_await s.read_line());            // "def\n"
        seen.push_back(co_await s.read_until("kl"));       // "ghijkl"
        seen.push_back(co_await s.read_to_end(100));       // "mnop"
        EXPECT_TRUE(s.at_eof());
        EXPECT_EQ(co_await s.read_some(), "");             // the end stays the end
      },
      "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  for (const char* piece : {"ab", "cdef\n", "gh", "ijklmnop"}) {
    c.write(piece);
    co_await c.drain();
    co_await sleep(1ms);
  }
  c.write_eof();
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(seen, (std::vector<std::string>{"abc", "def\n", "ghijkl", "mnop"}));
}

TEST(Stream, PartialReadsAreAssembled) { run(reads_in_pieces()); }

Task<void> big_write_with_backpressure() {
  // 8 MiB in one write to a reader that reads slowly: the socket takes part, the rest
  // is queued, drain() waits, and every byte arrives in order.
  std::string payload(8 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
  std::string received;
  Server server = co_await start_server(
      [&received](Stream s) -> Task<void> {
        for (std::string part; !(part = co_await s.read_some(1 << 16)).empty();) {
          received += part;
          if (received.size() < (1 << 20)) co_await sleep(1ms);  // slow at first
        }
      },
      "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  c.write(payload);
  EXPECT_GT(c.write_queued(), 64u * 1024) << "the socket took 8 MiB at once";
  co_await c.drain();
  EXPECT_LE(c.write_queued(), 64u * 1024);
  c.close();  // the rest is still sent
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

TEST(Stream, LargeWritesApplyBackpressureAndArriveWhole) { run(big_write_with_backpressure()); }

Task<void> peer_closes_mid_read() {
  std::optional<std::string> exact, line;
  std::string partial;
  Server server = co_await start_server(
      [&](Stream s) -> Task<void> {
        try {
          co_await s.read_exactly(10);
        } catch (const IncompleteReadError& e) {
          exact = e.what();
          partial = e.partial();
        }
      },
      "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  c.write("12345");
  c.close();
  server.close();
  co_await server.wait_closed();
  EXPECT_TRUE(exact.has_value());
  EXPECT_NE(exact->find("5 of 10 bytes"), std::string::npos) << exact.value_or("");
  EXPECT_EQ(partial, "12345");

  Server lines = co_await start_server(
      [&](Stream s) -> Task<void> { line = co_await test::error_of<IncompleteReadError>(s.read_line()); }, "127.0.0.1", 0);
  Stream c2 = co_await open_connection("127.0.0.1", lines.port());
  c2.write("no newline");
  c2.close();
  lines.close();
  co_await lines.wait_closed();
  EXPECT_TRUE(line.has_value());
}

TEST(Stream, PeerClosingMidReadIsIncompleteRead) { run(peer_closes_mid_read()); }

Task<void> refused() {
  const std::uint16_t port = co_await test::closed_port();
  auto message = co_await test::error_of<ConnectionError>(open_connection("127.0.0.1", port));
  EXPECT_TRUE(message.has_value());
  EXPECT_NE(message->find("127.0.0.1 port " + std::to_string(port)), std::string::npos) << message.value_or("");
  EXPECT_NE(message->find("ECONNREFUSED"), std::string::npos) << message.value_or("");
  try {
    co_await open_connection("127.0.0.1", port);
  } catch (const ConnectionError& e) {
    EXPECT_EQ(e.code(), std::errc::connection_refused);
  }
}

TEST(Stream, ConnectingToAClosedPortIsAClearError) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  run(refused());
}

Task<void> read_timeouts() {
  Event release;
  Server server = co_await start_server(
      [&release](Stream s) -> Task<void> {
        s.write("early");
        co_await release.wait();
        s.write("late\n");
        co_await s.drain();
      },
      "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  const auto start = Clock::now();
  auto message = co_await test::error_of<TimeoutError>(c.read_line(Stream::default_limit, 50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_TRUE(message.has_value());
  EXPECT_NE(message->find("read_until: timed out after 50 ms"), std::string::npos) << message.value_or("");
  EXPECT_EQ(c.buffered(), 5u) << "what arrived before the timeout stays buffered";
  release.set();
  EXPECT_EQ(co_await c.read_line(), "earlylate\n");
  server.close();
  co_await server.wait_closed();
}

TEST(Stream, ReadTimeoutsRaiseAndLoseNothing) { run(read_timeouts()); }

Task<void> line_limits() {
  Server server = co_await start_server(
      [](Stream s) -> Task<void> {
        s.write(std::string(100, 'x') + "\nshort\n");
        co_await s.drain();
      },
      "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  try {
    co_await c.read_line(64);
    ADD_FAILURE() << "a 101-byte line passed a 64-byte limit";
  } catch (const LimitOverrunError& e) {
    EXPECT_NE(std::string(e.what()).find("within 64 bytes"), std::string::npos) << e.what();
  }
  // The long line is still there; a larger limit reads it, then the next one.
  EXPECT_EQ((co_await c.read_line(200)).size(), 101u);
  EXPECT_EQ(co_await c.read_line(64), "short\n");
  EXPECT_EQ((co_await test::error_of<LimitOverrunError>(c.read_to_end(0))), std::nullopt);
  server.close();
  co_await server.wait_closed();
}

TEST(Stream, LineReadsHaveASizeLimit) { run(line_limits()); }

Task<void> bad_input() {
  Server server = co_await start_server(test::echo, "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  EXPECT_THROW(co_await c.read_some(0), std::invalid_argument);
  EXPECT_THROW(co_await c.read_until(""), std::invalid_argument);
  EXPECT_THROW(co_await c.read_some(10, -1ms), std::invalid_argument);
  EXPECT_THROW(co_await open_connection("", 80), std::invalid_argument);
  const ServerOptions no_backlog{.backlog = 0};  // named: g++ 12 mishandles braced aggregates in co_await
  EXPECT_THROW(co_await start_server(test::echo, "127.0.0.1", 0, no_backlog), std::invalid_argument);
  EXPECT_THROW(co_await start_server(nullptr, "127.0.0.1", 0), std::invalid_argument);
  // The port is taken.
  try {
    Server again = co_await start_server(test::echo, "127.0.0.1", server.port());
    ADD_FAILURE() << "a second server bound the same port";
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(server.port())), std::string::npos) << e.what();
  }
  // Two readers at once.
  auto first = spawn(c.read_some());
  co_await yield_now();
  EXPECT_THROW(co_await c.read_some(), InvalidState);
  c.write("x");
  EXPECT_EQ(co_await first, "x");
  c.close();
  EXPECT_THROW(c.write("after close"), ConnectionError);
  EXPECT_THROW(co_await c.read_some(), ConnectionError);
  Stream empty;
  EXPECT_THROW(empty.write("x"), InvalidState);
  server.close();
  co_await server.wait_closed();
}

TEST(Stream, BadInputIsRefusedByName) { run(bad_input()); }

Task<void> cancel_a_read() {
  Server server = co_await start_server(test::echo, "127.0.0.1", 0);
  Stream c = co_await open_connection("127.0.0.1", server.port());
  auto reader = spawn(c.read_some());
  co_await sleep(1ms);
  reader.cancel();
  EXPECT_THROW(co_await reader, CancelledError);
  c.write("still works");
  EXPECT_EQ(co_await c.read_exactly(11), "still works");
  c.close();  // the echo handler ends at the end of its stream
  server.close();
  co_await server.wait_closed();
}

TEST(Stream, ACancelledReadLeavesTheStreamUsable) { run(cancel_a_read()); }

Task<void> handler_failures() {
  int served = 0;
  Server server = co_await start_server(
      [&served](Stream s) -> Task<void> {
        std::string what = co_await s.read_line();
        ++served;
        if (what == "fail\n") throw std::runtime_error("handler failed on purpose");
        s.write("ok\n");
      },
      "127.0.0.1", 0);
  for (const char* line : {"fail\n", "fine\n", "fail\n"}) {
    Stream c = co_await open_connection("localhost", server.port());
    c.write(line);
    (void)co_await test::error_of<IncompleteReadError>(c.read_line());
  }
  EXPECT_TRUE(server.is_serving()) << "a failing handler does not stop the server";
  server.close();
  try {
    co_await server.wait_closed();
    ADD_FAILURE() << "handler failures were lost";
  } catch (const ExceptionGroup& e) {
    EXPECT_EQ(e.exceptions().size(), 2u);
    EXPECT_NE(std::string(e.what()).find("2 of 3 connection handlers failed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(served, 3);
}

TEST(Server, HandlerFailuresAreKeptAndRaisedTogether) { run(handler_failures()); }

Task<void> graceful_close() {
  Event go_on;
  bool finished = false;
  Server server = co_await start_server(
      [&](Stream s) -> Task<void> {
        co_await go_on.wait();
        s.write("bye\n");
        finished = true;
      },
      "127.0.0.1", 0);
  const std::uint16_t port = server.port();
  Stream c = co_await open_connection("127.0.0.1", port);
  while (server.connections() == 0) co_await yield_now();
  server.close();
  EXPECT_FALSE(server.is_serving());
  auto waiting = spawn(server.wait_closed());
  co_await sleep(2ms);
  EXPECT_FALSE(waiting.done()) << "wait_closed returned while a handler runs";
  go_on.set();
  co_await waiting;
  EXPECT_TRUE(finished);
  EXPECT_EQ(co_await c.read_line(), "bye\n");
  // A new connection is refused once closed.
  EXPECT_TRUE((co_await test::error_of<ConnectionError>(open_connection("127.0.0.1", port)))
                  .has_value());
}

TEST(Server, CloseIsGraceful) { run(graceful_close()); }

Task<void> cancel_handlers() {
  int cancelled = 0;
  Server server = co_await start_server(
      [&cancelled](Stream s) -> Task<void> {
        try {
          co_await s.read_some();
        } catch (const CancelledError&) {
          ++cancelled;
          throw;
        }
      },
      "127.0.0.1", 0);
  std::vector<Stream> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(co_await open_connection("127.0.0.1", server.port()));
  while (server.connections() < 3) co_await yield_now();
  server.close();
  server.cancel_handlers();
  co_await server.wait_closed();  // cancelled handlers are not failures
  EXPECT_EQ(cancelled, 3);
  for (auto& c : clients) EXPECT_EQ(co_await c.read_some(), "") << "the server side closed";
}

TEST(Server, CancelHandlersEndsThemWithoutFailures) { run(cancel_handlers()); }

Task<void> resolves() {
  auto local = co_await resolve("localhost", 80);
  EXPECT_FALSE(local.empty());
  for (const Endpoint& e : local) {
    EXPECT_TRUE(e.address == "127.0.0.1" || e.address == "::1") << e.to_string();
    EXPECT_EQ(e.port, 80);
  }
  auto numeric = co_await resolve("::1", 8080);
  EXPECT_EQ(numeric.size(), 1u);
  if (numeric.empty()) co_return;
  EXPECT_EQ(numeric[0].to_string(), "[::1]:8080");
  // An IPv4 literal asked for as IPv6: the resolver refuses it, without any network.
  auto message = co_await test::error_of<ResolveError>(resolve("127.0.0.1", 80, AddressFamily::ipv6));
  EXPECT_TRUE(message.has_value());
  EXPECT_NE(message->find("cannot resolve '127.0.0.1'"), std::string::npos) << message.value_or("");
}

TEST(Resolve, LocalNamesNumericAddressesAndFailures) { run(resolves()); }

Task<void> loop_end_closes_what_is_left(Stream& kept) {
  Server server = co_await start_server(test::echo, "127.0.0.1", 0);
  kept = co_await open_connection("127.0.0.1", server.port());
  // The task ends with a connection and a server open, and a handler running.
  while (server.connections() == 0) co_await yield_now();
  server.close();
}

TEST(Stream, TheLoopClosesWhatOutlivesItsTasks) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  Stream kept;
  run(loop_end_closes_what_is_left(kept));
  EXPECT_TRUE(kept.is_closing());
  EXPECT_THROW(kept.write("x"), ConnectionError);
}

}  // namespace
}  // namespace concur
