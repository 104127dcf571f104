// libFuzzer target for the HTTP server's request parser (built with clang only; ctest
// runs it for a bounded time). Input: the first byte chooses the size of the pieces
// fed, the rest is the byte stream of one connection. Checks: the parser never takes
// more than it was given, never loops without progress, and every request it completes
// has a method and a path; anything else is a sanitizer's or an assertion's finding.
#include "http/request_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = std::size_t{data[0]} % 64 + 1;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  concur::http::ServerOptions limits;
  limits.max_request_line = 256;
  limits.max_header_bytes = 512;
  limits.max_headers = 8;
  limits.max_body_size = 1024;
  concur::http::detail::RequestParser parser(limits);
  using State = concur::http::detail::RequestParser::State;
  while (!input.empty()) {
    const std::string_view chunk = input.substr(0, piece);
    const std::size_t used = parser.feed(chunk);
    if (used > chunk.size()) std::abort();
    input.remove_prefix(used);
    if (parser.state() == State::failed) {
      if (parser.error_status() < 400 || parser.error_reason().empty()) std::abort();
      break;
    }
    if (parser.state() == State::complete) {
      const concur::http::Request request = parser.take();
      if (request.method.empty() || request.path.empty()) std::abort();
    } else if (used == 0) {
      std::abort();  // incomplete, yet took nothing: no progress
    }
  }
  return 0;
}
