#include "serve.hpp"

#include <concur/http/data_service.hpp>
#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

namespace concur::cli {
namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int latency_ms = 100;
  std::size_t size = 1024;
  http::DataFormat format = http::DataFormat::json;
  std::size_t files = 0;
  int header_timeout_ms = 10'000;
};

// Serves until SIGINT (which cancels this task), then closes gracefully: no new
// connections, running requests answered within 5 s, then cancelled.
Task<void> serve(ServeOptions options) {
  http::DataServiceOptions service;
  service.latency = std::chrono::milliseconds(options.latency_ms);
  service.file_size = options.size;
  service.format = options.format;
  service.file_count = options.files;
  http::ServerOptions server_options;
  server_options.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
  http::Server server = co_await http::start_server(http::data_service(service), options.host, options.port,
                                                    server_options);
  fmt::print("concur serve: {} (GET /files/<i>: {} B of {} after {} ms; GET / lists the routes; Ctrl-C stops)\n",
             server.url(), options.size, options.format == http::DataFormat::json ? "JSON" : "binary",
             options.latency_ms);
  if (options.host != "127.0.0.1" && options.host != "::1" && options.host != "localhost") {
    fmt::print("concur serve: listening beyond loopback on {}: anyone who reaches this machine can connect\n",
               options.host);
  }
  std::fflush(stdout);
  bool interrupted = false;
  try {
    for (;;) co_await sleep(std::chrono::hours(24));
  } catch (const CancelledError&) {
    interrupted = true;  // Ctrl-C: the graceful close below
  }
  if (interrupted) {
    fmt::print("concur serve: closing ({} requests answered)\n", server.requests_served());
    server.close();
    try {
      co_await wait_for(server.wait_closed(), std::chrono::seconds(5));
    } catch (const TimeoutError&) {
      server.cancel_handlers();
    }
    if (server.connections() > 0) co_await server.wait_closed();
  }
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve synthetic data files over HTTP/1.1 (GET /files/<i>: the same bytes for the same i, after a "
      "latency), on loopback unless --host says otherwise. Ctrl-C closes it gracefully.");
  cmd->add_option("--host", options->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", options->port, "Port (0: any free one)")->capture_default_str();
  cmd->add_option("--latency-ms", options->latency_ms, "Delay before each file is sent")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  cmd->add_option("--size", options->size, "Bytes per file (JSON: at least 64)")
      ->check(CLI::Range(std::size_t{0}, http::max_data_file_size))
      ->capture_default_str();
  const std::map<std::string, http::DataFormat> formats{{"json", http::DataFormat::json},
                                                       {"binary", http::DataFormat::binary}};
  cmd->add_option("--format", options->format, "json or binary")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->default_str("json");
  cmd->add_option("--files", options->files, "Number of files (0: any index)")->capture_default_str();
  cmd->add_option("--header-timeout-ms", options->header_timeout_ms,
                  "Time a client has to send a request's head (then 408)")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cmd->callback([options] { run(serve(*options)); });
}

}  // namespace concur::cli
