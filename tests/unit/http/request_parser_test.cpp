// RequestParser: requests whole and in pieces, pipelined, with bodies (sized and
// chunked), and every bound: 414, 431 (bytes and count), 413, 400, 505.
#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace concur::http::detail {
namespace {

using State = RequestParser::State;

// Feeds `input` in pieces of `piece` bytes until the parser stops taking bytes.
std::size_t feed_in_pieces(RequestParser& parser, std::string_view input, std::size_t piece) {
  std::size_t used = 0;
  while (used < input.size() && parser.state() == State::incomplete) {
    used += parser.feed(input.substr(used, piece));
  }
  return used;
}

TEST(RequestParser, ParsesAGetWholeOrByteByByte) {
  const std::string get = "GET /files/7?size=100 HTTP/1.1\r\nHost: x\r\nX-Two: a\r\nX-Two: b\r\n\r\n";
  for (const std::size_t piece : {get.size(), std::size_t{1}, std::size_t{5}}) {
    ServerOptions options;
    RequestParser parser(options);
    EXPECT_EQ(feed_in_pieces(parser, get, piece), get.size());
    ASSERT_EQ(parser.state(), State::complete) << "pieces of " << piece;
    const Request r = parser.take();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/files/7?size=100");
    EXPECT_EQ(r.path, "/files/7");
    EXPECT_EQ(r.query, "size=100");
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_TRUE(r.keep_alive);
    ASSERT_EQ(r.headers.size(), 3u);
    EXPECT_EQ(r.headers.get("host"), "x");
    EXPECT_EQ(r.headers.get("X-TWO"), "a");  // the first of a repeated field
    EXPECT_EQ(parser.state(), State::incomplete);
    EXPECT_FALSE(parser.started());
  }
}

TEST(RequestParser, StopsAtTheEndOfEachPipelinedRequest) {
  ServerOptions options;
  RequestParser parser(options);
  const std::string two = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\n\r\n";
  std::string_view rest = two;
  std::vector<std::string> seen;
  while (!rest.empty()) {
    rest.remove_prefix(parser.feed(rest));
    ASSERT_EQ(parser.state(), State::complete);
    const Request r = parser.take();
    seen.push_back(r.method + " " + r.path + " " + r.body);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"GET /a ", "POST /b xyz", "GET /c "}));
}

TEST(RequestParser, ReadsAChunkedBody) {
  ServerOptions options;
  RequestParser parser(options);
  const std::string post = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  EXPECT_EQ(feed_in_pieces(parser, post, 4), post.size());
  ASSERT_EQ(parser.state(), State::complete);
  EXPECT_EQ(parser.take().body, "abcde");
}

TEST(RequestParser, KnowsWhenTheClientWantsToClose) {
  ServerOptions options;
  for (const auto& [request, keep] : std::vector<std::pair<std::string, bool>>{
           {"GET / HTTP/1.0\r\n\r\n", false},
           {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
           {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
           {"GET / HTTP/1.1\r\n\r\n", true}}) {
    RequestParser parser(options);
    parser.feed(request);
    ASSERT_EQ(parser.state(), State::complete) << request;
    EXPECT_EQ(parser.take().keep_alive, keep) << request;
  }
}

struct Refusal {
  std::string input;
  int status;
};

TEST(RequestParser, RefusesWhatPassesItsBoundsWithTheRightStatus) {
  ServerOptions options;
  options.max_request_line = 100;
  options.max_header_bytes = 200;
  options.max_headers = 5;
  options.max_body_size = 10;
  std::string many_fields = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 6; ++i) many_fields += "F" + std::to_string(i) + ": v\r\n";
  const std::vector<Refusal> cases = {
      {"GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nBig: " + std::string(300, 'b') + "\r\n\r\n", 431},
      {many_fields + "\r\n", 431},
      {"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 413},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"NOT-A-METHOD / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET nopath HTTP/1.1\r\n\r\n", 400},
      {std::string("\x16\x03\x01\x02\x00", 5), 400},  // a TLS hello to a plain server
  };
  for (const Refusal& c : cases) {
    for (const std::size_t piece : {c.input.size(), std::size_t{1}}) {
      RequestParser parser(options);
      feed_in_pieces(parser, c.input, piece);
      EXPECT_EQ(parser.state(), State::failed) << c.input;
      EXPECT_EQ(parser.error_status(), c.status) << c.input << " -> " << parser.error_reason();
      EXPECT_FALSE(parser.error_reason().empty());
      EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\n\r\n"), 0u);  // refused for good
    }
  }
}

TEST(RequestParser, AcceptsExactlyTheLimits) {
  ServerOptions options;
  options.max_request_line = 20;  // "GET " + 16 bytes of target
  options.max_body_size = 4;
  RequestParser parser(options);
  const std::string at_limit = "POST /" + std::string(10, 'a') + " HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
  EXPECT_EQ(parser.feed(at_limit), at_limit.size());
  EXPECT_EQ(parser.state(), State::complete);
}

}  // namespace
}  // namespace concur::http::detail
