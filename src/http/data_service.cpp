#include <concur/http/data_service.hpp>

#include <concur/loop/sleep.hpp>

#include <charconv>
#include <optional>
#include <stdexcept>

namespace concur {
inline namespace v0 {
namespace http {
namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void check_size(std::size_t size, DataFormat format) {
  if (size > max_data_file_size) {
    throw std::invalid_argument("concur::http::data_file: size " + std::to_string(size) + " is over the largest, " +
                                std::to_string(max_data_file_size));
  }
  if (format == DataFormat::json && size < min_json_file_size) {
    throw std::invalid_argument("concur::http::data_file: a JSON file needs at least " +
                                std::to_string(min_json_file_size) + " bytes, not " + std::to_string(size));
  }
}

// A decimal number in `text`, whole; nullopt otherwise.
std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The value of `name` in a query string ("size=10&latency_ms=0"); nullopt when absent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (const std::size_t eq = pair.find('='); eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

Response text(int status, std::string body) {
  return Response{.status = status, .headers = {{"Content-Type", "text/plain"}}, .body = std::move(body) + "\n"};
}

const char* const index_text =
    "concur data service\n"
    "  GET /files/<i>[?size=N&latency_ms=N]  file i, after the latency\n"
    "  GET /status/<code>                    that status\n"
    "  GET /redirect/<n>                     n redirects, then /files/0\n"
    "  GET /loop                             a redirect loop\n"
    "  POST /echo                            the body back";

Task<Response> serve_file(DataServiceOptions options, std::uint64_t index, std::string query) {
  std::size_t size = options.file_size;
  std::chrono::milliseconds latency = options.latency;
  if (const auto v = query_value(query, "size")) {
    const auto n = parse_number(*v);
    if (!n || *n > max_data_file_size || (options.format == DataFormat::json && *n < min_json_file_size)) {
      co_return text(400, "size must be a number from " +
                              std::to_string(options.format == DataFormat::json ? min_json_file_size : 0) + " to " +
                              std::to_string(max_data_file_size));
    }
    size = static_cast<std::size_t>(*n);
  }
  if (const auto v = query_value(query, "latency_ms")) {
    const auto n = parse_number(*v);
    if (!n || *n > 3'600'000) co_return text(400, "latency_ms must be a number from 0 to 3600000");
    latency = std::chrono::milliseconds(*n);
  }
  if (latency.count() > 0) co_await sleep(latency);
  Response response{.status = 200, .body = data_file(index, size, options.format)};
  response.headers.add("Content-Type",
                       options.format == DataFormat::json ? "application/json" : "application/octet-stream");
  co_return response;
}

Task<Response> route(DataServiceOptions options, Request request);

}  // namespace

std::string data_file(std::uint64_t index, std::size_t size, DataFormat format) {
  check_size(size, format);
  std::string out;
  out.reserve(size);
  if (format == DataFormat::binary) {
    for (std::uint64_t k = 0; out.size() < size; ++k) {
      std::uint64_t word = splitmix64((index << 32) ^ k ^ 0x5eedULL);
      for (int b = 0; b < 8 && out.size() < size; ++b, word >>= 8) out.push_back(static_cast<char>(word & 0xff));
    }
    return out;
  }
  out = "{\"file\": " + std::to_string(index) + ", \"values\": [";
  const std::string close = "]}";
  char number[32] = {',', ' '};
  for (std::uint64_t k = 0;; ++k) {
    const double value = static_cast<double>(splitmix64((index << 32) ^ k) >> 11) * 0x1.0p-53;
    // Fixed, 6 decimals: printf's "%.6f" exactly, without its cost.
    const auto [end, error] = std::to_chars(number + 2, number + sizeof number, value, std::chars_format::fixed, 6);
    const char* begin = k == 0 ? number + 2 : number;
    const auto n = static_cast<std::size_t>(end - begin);
    if (out.size() + n + close.size() > size) break;
    out.append(begin, n);
  }
  out.append(size - close.size() - out.size(), ' ');  // JSON allows the padding there
  out += close;
  return out;
}

Handler data_service(DataServiceOptions options) {
  check_size(options.file_size, options.format);
  if (options.latency.count() < 0) throw std::invalid_argument("concur::http::data_service: a negative latency");
  // The coroutine is a free function with its own copy of the options: the handler
  // object may go before a request it started has been answered.
  return [options](Request request) { return route(options, std::move(request)); };
}

namespace {
Task<Response> route(DataServiceOptions options, Request request) {
    const std::string_view path = request.path;
    const bool get = request.method == "GET" || request.method == "HEAD";
    const auto method_not_allowed = [](const char* allow) {
      Response r = text(405, "method not allowed");
      r.headers.add("Allow", allow);
      return r;
    };
    if (path.starts_with("/files/")) {
      if (!get) co_return method_not_allowed("GET, HEAD");
      const auto index = parse_number(path.substr(7));
      if (!index || (options.file_count > 0 && *index >= options.file_count)) co_return text(404, "no such file");
      co_return co_await serve_file(options, *index, request.query);
    }
    if (path.starts_with("/status/")) {
      if (!get) co_return method_not_allowed("GET, HEAD");
      const auto code = parse_number(path.substr(8));
      if (!code || *code < 100 || *code > 599) co_return text(404, "no such status");
      const int status = static_cast<int>(*code);
      co_return text(status, std::string(reason_phrase(status)));
    }
    if (path.starts_with("/redirect/")) {
      if (!get) co_return method_not_allowed("GET, HEAD");
      const auto n = parse_number(path.substr(10));
      if (!n) co_return text(404, "no such redirect");
      Response r = text(302, "redirected");
      r.headers.add("Location", *n == 0 ? std::string("/files/0") : "/redirect/" + std::to_string(*n - 1));
      co_return r;
    }
    if (path == "/loop") {
      Response r = text(302, "around again");
      r.headers.add("Location", "/loop");
      co_return r;
    }
    if (path == "/echo") {
      if (request.method != "POST") co_return method_not_allowed("POST");
      Response r{.status = 200, .body = std::move(request.body)};
      r.headers.add("Content-Type", std::string(request.headers.get("content-type").value_or("application/octet-stream")));
      co_return r;
    }
    if (path == "/") {
      if (!get) co_return method_not_allowed("GET, HEAD");
      co_return text(200, index_text);
    }
    co_return text(404, "not found");
}
}  // namespace

}  // namespace http
}  // namespace v0
}  // namespace concur
