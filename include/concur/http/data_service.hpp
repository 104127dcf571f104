// The synthetic data service behind `concur serve`, the I/O-bound demo, the HTTP tests
// and bench/http: "files from the cloud" that take a chosen latency to arrive.
//
//   concur::http::Server server = co_await concur::http::start_server(
//       concur::http::data_service({.latency = 100ms, .file_size = 1024}), "127.0.0.1", 0);
//   // GET <server.url()>/files/7 -> data_file(7, 1024, DataFormat::json), after 100 ms
//
// Routes (GET and HEAD unless said):
//   /files/<i>        file i (i < file_count when set): data_file(i, size, format) after
//                     the latency; ?size=N and ?latency_ms=N override per request
//   /status/<code>    that status (100-599), its reason as the body
//   /redirect/<n>     302 to /redirect/<n-1>; /redirect/0 goes to /files/0
//   /loop             302 to itself (a redirect loop)
//   /echo             POST: the request body back, with its Content-Type
//   /                 a short text index of these routes
// Anything else is 404; a known path with another method is 405 with Allow.
// Thread safety: data_file is pure; the handler runs on its server's loop.
#pragma once

#include <concur/export.hpp>
#include <concur/http/server.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace concur {
inline namespace v0 {
namespace http {

enum class DataFormat { json, binary };

struct DataServiceOptions {
  std::chrono::milliseconds latency = std::chrono::milliseconds(100);  // before each file
  std::size_t file_size = 1024;  // bytes of each file
  DataFormat format = DataFormat::json;
  std::size_t file_count = 0;  // files that exist (0: any index)
};

// The largest file the service makes (64 MiB); smallest JSON file: 64 bytes.
inline constexpr std::size_t max_data_file_size = std::size_t{64} << 20;
inline constexpr std::size_t min_json_file_size = 64;

// The bytes of file `index`: always the same for the same arguments. JSON: an object
// {"file": i, "values": [...]} of pseudo-random doubles, padded to exactly `size` bytes;
// binary: `size` pseudo-random bytes. std::invalid_argument for a size out of range.
CONCUR_EXPORT std::string data_file(std::uint64_t index, std::size_t size, DataFormat format);

// The handler; std::invalid_argument for options out of range.
CONCUR_EXPORT Handler data_service(DataServiceOptions options);

// The data service on a thread and event loop of its own, on a free loopback port: a
// server next to the program that uses it (the demo, examples, benchmarks).
//   concur::http::LocalDataService service({.latency = 100ms});
//   concur::http::get(service.url() + "/files/1");
// The constructor returns once the server listens (or rethrows why it cannot); the
// destructor closes it gracefully (in-flight requests are answered) and joins the thread.
// Thread safety: url(), port() and cpu_seconds() from any thread.
class CONCUR_EXPORT LocalDataService {
 public:
  LocalDataService();
  explicit LocalDataService(DataServiceOptions options);
  ~LocalDataService();
  LocalDataService(const LocalDataService&) = delete;
  LocalDataService& operator=(const LocalDataService&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const noexcept { return port_; }
  // CPU time the server's thread has used so far.
  double cpu_seconds() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::uint16_t port_ = 0;
};

}  // namespace http
}  // namespace v0
}  // namespace concur
