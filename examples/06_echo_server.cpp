// 06 — A TCP echo server and its clients on one event loop.
//
// The server runs a handler task per connection; the clients are tasks too. One thread
// serves every connection: while one waits for bytes, the loop runs the others.
// `06_echo_server serve PORT` runs the server alone until Ctrl-C (try it with
// `nc 127.0.0.1 PORT`); Ctrl-C cancels the main task, which closes the server.
//
// Usage: 06_echo_server [clients, default 100] [lines per client, default 100]
//        06_echo_server serve PORT
#include <concur/loop/gather.hpp>
#include <concur/loop/run.hpp>
#include <concur/net/connect.hpp>
#include <concur/net/server.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// One connection: send back every line until the client closes its end.
concur::Task<void> echo(concur::Stream stream) {
  for (;;) {
    std::string line = co_await stream.read_some();
    if (line.empty()) co_return;  // the client closed its end
    stream.write(line);
    co_await stream.drain();  // wait while the client reads slower than we write
  }
}

// One client: `lines` round trips; returns how many came back unchanged.
concur::Task<int> client(std::uint16_t port, int id, int lines) {
  concur::Stream stream = co_await concur::open_connection("127.0.0.1", port);
  int intact = 0;
  for (int i = 0; i < lines; ++i) {
    const std::string line = "client " + std::to_string(id) + " line " + std::to_string(i) + "\n";
    stream.write(line);
    if (co_await stream.read_line() == line) ++intact;
  }
  co_return intact;
}

concur::Task<void> demo(int clients, int lines) {
  concur::Server server = co_await concur::start_server(echo, "127.0.0.1", 0);
  std::printf("echo server on %s\n", server.local_name().c_str());
  const auto start = std::chrono::steady_clock::now();
  std::vector<concur::Task<int>> tasks;
  for (int id = 0; id < clients; ++id) tasks.push_back(client(server.port(), id, lines));
  const std::vector<int> intact = co_await concur::gather(std::move(tasks));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long total = 0;
  for (int n : intact) total += n;
  std::printf("%d clients x %d lines: %ld of %ld echoed intact in %.3f s (%.0f round trips/s)\n", clients, lines,
              total, static_cast<long>(clients) * lines, seconds, static_cast<double>(total) / seconds);
  server.close();
  co_await server.wait_closed();  // every handler has ended
}

concur::Task<void> serve(std::uint16_t port) {
  concur::Server server = co_await concur::start_server(echo, "127.0.0.1", port);
  std::printf("echo server on %s; Ctrl-C stops it\n", server.local_name().c_str());
  std::fflush(stdout);
  co_await server.wait_closed();  // until Ctrl-C cancels this task
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "serve") {
      const long port = std::atol(argv[2]);
      if (port < 0 || port > 65535) throw std::invalid_argument("PORT must be 0..65535");
      concur::run(serve(static_cast<std::uint16_t>(port)));
      return 0;
    }
    const int clients = argc > 1 ? std::atoi(argv[1]) : 100;
    const int lines = argc > 2 ? std::atoi(argv[2]) : 100;
    if (clients < 1 || lines < 1) throw std::invalid_argument("clients and lines must be at least 1");
    concur::run(demo(clients, lines));
  } catch (const concur::CancelledError&) {
    std::printf("stopped\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "06_echo_server: %s\nusage: %s [clients] [lines] | serve PORT\n", e.what(), argv[0]);
    return 2;
  }
  return 0;
}
