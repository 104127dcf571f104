// The HTTP server over raw TCP: bounds (400, 413, 414, 431, 505), the header timeout
// (408), pipelining, keep-alive and Connection: close, HEAD, handler failures (500 and
// wait_closed), graceful close of idle connections, bad options; the data service's
// files. No handle, fd or task left.
#include <concur/http/data_service.hpp>
#include <concur/http/server.hpp>

#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>

#include "support/http_tasks.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace concur {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(HttpServer, AnswersEachBoundAndMalformedRequestWithItsStatusAndCloses) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  run([]() -> Task<void> {
    http::ServerOptions options;
    options.max_request_line = 1024;
    options.max_header_bytes = 2048;
    options.max_headers = 10;
    options.max_body_size = 100;
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0, options);
    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 11; ++i) many += "F" + std::to_string(i) + ": v\r\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n", "HTTP/1.1 414 URI Too Long"},
        {"GET / HTTP/1.1\r\nBig: " + std::string(3000, 'b') + "\r\n\r\n", "HTTP/1.1 431 "},
        {many + "\r\n", "HTTP/1.1 431 "},
        {"POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413 "},
        {"GET / HTTP/9.9\r\n\r\n", "HTTP/1.1 505 "},
        {"BREW /pot HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
        {"GET / HTTP/1.1\r\nbroken header\r\n\r\n", "HTTP/1.1 400 Bad Request"},
        {std::string("\0\1\2\3GET", 7), "HTTP/1.1 400 Bad Request"},
    };
    for (const auto& [request, status] : cases) {
      const std::string back = co_await test::raw_exchange(server.port(), request);
      EXPECT_TRUE(back.starts_with(status)) << request.substr(0, 40) << " -> " << back.substr(0, 60);
      EXPECT_NE(back.find("Connection: close"), std::string::npos);
    }
    EXPECT_EQ(server.requests_served(), 0u);
    co_await test::close_server(server);
    EXPECT_EQ(co_await test::handles_left_open(), 0u);
  }());
}

TEST(HttpServer, ClosesAClientThatSendsNoWholeHeadWithinTheHeaderTimeout) {
  run([]() -> Task<void> {
    http::ServerOptions options;
    options.header_timeout = 200ms;
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0, options);
    const auto start = Clock::now();
    const std::string back = co_await test::raw_exchange(server.port(), "GET / HTTP/1.1\r\nHost: slow\r\n");
    const auto took = Clock::now() - start;
    EXPECT_TRUE(back.starts_with("HTTP/1.1 408 Request Timeout")) << back;
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 5s);
    co_await test::close_server(server);
  }());
}

TEST(HttpServer, AnswersPipelinedRequestsInOrderOnOneConnection) {
  run([]() -> Task<void> {
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0);
    const std::string back = co_await test::raw_exchange(
        server.port(),
        "GET /files/1?size=64 HTTP/1.1\r\n\r\n"
        "GET /status/404 HTTP/1.1\r\n\r\n"
        "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Type: text/x\r\n\r\nhello"
        "GET /files/2?size=64 HTTP/1.1\r\nConnection: close\r\n\r\n");
    const std::size_t first = back.find(http::data_file(1, 64, http::DataFormat::json));
    const std::size_t missing = back.find("HTTP/1.1 404 Not Found");
    const std::size_t echoed = back.find("\r\n\r\nhello");
    const std::size_t last = back.find(http::data_file(2, 64, http::DataFormat::json));
    EXPECT_TRUE(first < missing && missing < echoed && echoed < last && last != std::string::npos) << back;
    EXPECT_EQ(count(back, "HTTP/1.1 "), 4u);
    EXPECT_EQ(server.connections_accepted(), 1u);
    EXPECT_EQ(server.requests_served(), 4u);
    co_await test::close_server(server);
  }());
}

TEST(HttpServer, KeepsAliveUnlessTheClientAsksToClose) {
  run([]() -> Task<void> {
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0);
    // HTTP/1.0 closes after one answer; HTTP/1.1 with Connection: close too.
    for (const std::string request : {"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"}) {
      const std::string back = co_await test::raw_exchange(server.port(), request);
      EXPECT_EQ(count(back, " 200 OK"), 1u) << back;
    }
    // HTTP/1.1 stays open: a second request on the same connection is answered.
    Stream s = co_await open_connection("127.0.0.1", server.port());
    s.write("GET /files/0?size=64 HTTP/1.1\r\n\r\n");
    const std::string head = co_await s.read_until("\r\n\r\n", 4096, 5s);
    EXPECT_NE(head.find("Content-Length: 64"), std::string::npos) << head;
    EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
    EXPECT_NE(head.find("Date: "), std::string::npos) << head;
    EXPECT_EQ(co_await s.read_exactly(64, 5s), http::data_file(0, 64, http::DataFormat::json));
    s.write("HEAD /files/0?size=64 HTTP/1.1\r\nConnection: close\r\n\r\n");
    const std::string rest = co_await s.read_to_end(4096, 5s);  // HEAD: the head only
    EXPECT_TRUE(rest.starts_with("HTTP/1.1 200 OK")) << rest;
    EXPECT_NE(rest.find("Content-Length: 64"), std::string::npos);
    EXPECT_TRUE(rest.ends_with("\r\n\r\n")) << rest;
    EXPECT_EQ(server.connections_accepted(), 3u);
    co_await test::close_server(server);
  }());
}

TEST(HttpServer, AHandlerFailureAnswers500AndIsRaisedByWaitClosed) {
  run([]() -> Task<void> {
    http::Server server = co_await http::start_server(
        [](http::Request) -> Task<http::Response> {
          throw std::runtime_error("the handler broke");
          co_return http::Response{};
        },
        "127.0.0.1", 0);
    const std::string back = co_await test::raw_exchange(server.port(), "GET / HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(back.starts_with("HTTP/1.1 500 Internal Server Error")) << back;
    server.close();
    const auto error = co_await test::error_of<ExceptionGroup>(server.wait_closed());
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find("the handler broke"), std::string::npos) << *error;
  }());
}

TEST(HttpServer, AMalformedResponseFromTheHandlerIsAFailureNotAnInjection) {
  run([]() -> Task<void> {
    http::Server server = co_await http::start_server(
        [](http::Request) -> Task<http::Response> {
          co_return http::Response{.status = 200, .headers = {{"X-Evil", "a\r\nSet-Cookie: x"}}};
        },
        "127.0.0.1", 0);
    const std::string back = co_await test::raw_exchange(server.port(), "GET / HTTP/1.1\r\n\r\n");
    EXPECT_TRUE(back.starts_with("HTTP/1.1 500 ")) << back;
    EXPECT_EQ(back.find("Set-Cookie"), std::string::npos);
    server.close();
    EXPECT_TRUE((co_await test::error_of<ExceptionGroup>(server.wait_closed())).has_value());
  }());
}

TEST(HttpServer, CloseEndsIdleKeepAliveConnectionsAndIdleTimeoutToo) {
  run([]() -> Task<void> {
    http::ServerOptions options;
    options.idle_timeout = 200ms;
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0, options);
    // Idle past idle_timeout: the server closes quietly.
    Stream a = co_await open_connection("127.0.0.1", server.port());
    a.write("GET / HTTP/1.1\r\n\r\n");
    (void)co_await a.read_until("concur data service", 4096, 5s);
    const auto start = Clock::now();
    (void)co_await a.read_to_end(1 << 16, 5s);  // returns at the server's close
    EXPECT_GE(Clock::now() - start, 150ms);
    // Idle when the server closes: closed at once, and wait_closed returns.
    Stream b = co_await open_connection("127.0.0.1", server.port());
    b.write("GET / HTTP/1.1\r\n\r\n");
    (void)co_await b.read_until("concur data service", 4096, 5s);
    co_await test::close_server(server);
    EXPECT_EQ(server.connections(), 0u);
    EXPECT_TRUE(b.at_eof() || (co_await b.read_to_end(1 << 16, 5s)).find("HTTP") == std::string::npos);
  }());
}

TEST(HttpServer, RefusesBadOptionsAndABusyPort) {
  run([]() -> Task<void> {
    http::ServerOptions zero;
    zero.max_headers = 0;
    EXPECT_TRUE((co_await test::error_of<std::invalid_argument>(
                     http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0, zero)))
                    .has_value());
    http::ServerOptions no_timeout;
    no_timeout.header_timeout = 0ms;
    EXPECT_TRUE((co_await test::error_of<std::invalid_argument>(
                     http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0, no_timeout)))
                    .has_value());
    http::Server server = co_await http::start_server(http::data_service(test::instant_data()), "127.0.0.1", 0);
    const auto busy = co_await test::error_of<IoError>(
        http::start_server(http::data_service(test::instant_data()), "127.0.0.1", server.port()));
    CO_ASSERT_TRUE(busy.has_value());
    EXPECT_NE(busy->find(std::to_string(server.port())), std::string::npos) << *busy;
    co_await test::close_server(server);
  }());
}

TEST(DataService, FilesAreExactDeterministicAndChecked) {
  for (const auto format : {http::DataFormat::json, http::DataFormat::binary}) {
    for (const std::size_t size : {std::size_t{64}, std::size_t{1000}, std::size_t{1} << 20}) {
      const std::string a = http::data_file(5, size, format);
      EXPECT_EQ(a.size(), size);
      EXPECT_EQ(a, http::data_file(5, size, format));
      EXPECT_NE(a, http::data_file(6, size, format));
    }
  }
  const std::string json = http::data_file(3, 200, http::DataFormat::json);
  EXPECT_TRUE(json.starts_with("{\"file\": 3, \"values\": [0.")) << json;
  EXPECT_TRUE(json.ends_with("]}")) << json;
  EXPECT_EQ(http::data_file(0, 0, http::DataFormat::binary), "");
  EXPECT_THROW(http::data_file(0, 63, http::DataFormat::json), std::invalid_argument);
  EXPECT_THROW(http::data_file(0, http::max_data_file_size + 1, http::DataFormat::binary), std::invalid_argument);
  http::DataServiceOptions bad;
  bad.file_size = 10;  // too small for JSON
  EXPECT_THROW(http::data_service(bad), std::invalid_argument);
}

TEST(DataService, RoutesRedirectsStatusesAndRefusals) {
  run([]() -> Task<void> {
    http::DataServiceOptions options = test::instant_data();
    options.file_count = 10;
    http::Server server = co_await http::start_server(http::data_service(options), "127.0.0.1", 0);
    const auto status_of = [&](std::string request) -> Task<std::string> {
      const std::string back = co_await test::raw_exchange(server.port(), std::move(request));
      co_return back.substr(0, back.find("\r\n"));
    };
    EXPECT_EQ(co_await status_of("GET /files/9 HTTP/1.0\r\n\r\n"), "HTTP/1.0 200 OK");
    EXPECT_EQ(co_await status_of("GET /files/10 HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not Found");
    EXPECT_EQ(co_await status_of("GET /files/x HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not Found");
    EXPECT_EQ(co_await status_of("GET /files/1?size=9 HTTP/1.0\r\n\r\n"), "HTTP/1.0 400 Bad Request");
    EXPECT_EQ(co_await status_of("DELETE /files/1 HTTP/1.0\r\n\r\n"), "HTTP/1.0 405 Method Not Allowed");
    EXPECT_EQ(co_await status_of("GET /status/503 HTTP/1.0\r\n\r\n"), "HTTP/1.0 503 Service Unavailable");
    EXPECT_EQ(co_await status_of("GET /redirect/2 HTTP/1.0\r\n\r\n"), "HTTP/1.0 302 Found");
    EXPECT_EQ(co_await status_of("GET /nothing HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not Found");
    co_await test::close_server(server);
  }());
}

}  // namespace
}  // namespace concur
