// 08 — "500 tiny files from the cloud": many downloads that each mostly wait.
//
// A local data service stands in for the cloud (every file arrives after 100 ms). The
// files are fetched three ways: one after another, with 100 blocking downloads on a
// ThreadPool, and with one http::Client on the event loop, 100 at a time. The waits
// overlap in the last two, so 500 files take about 500 x 100 ms / 100 = 0.5 s instead
// of 50 s (the sequential run fetches 20 files and is scaled).
//
// Usage: 08_fetch_many [files, default 500] [latency in ms, default 100]
#include <concur/http/blocking.hpp>
#include <concur/http/client.hpp>
#include <concur/http/data_service.hpp>
#include <concur/loop/gather.hpp>
#include <concur/loop/lock.hpp>
#include <concur/loop/run.hpp>
#include <concur/thread/thread_pool.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// On the loop: every file is a task; a Semaphore keeps 100 downloads in flight.
concur::Task<std::size_t> fetch_all(std::string base, int files) {
  concur::http::Client client;  // one client: its connections are reused
  concur::Semaphore slots(100);
  auto fetch = [&](int i) -> concur::Task<std::size_t> {
    auto slot = co_await slots.scoped();
    concur::http::Response r = co_await client.get(base + "/files/" + std::to_string(i));
    r.raise_for_status();
    co_return r.body.size();
  };
  std::vector<concur::Task<std::size_t>> downloads;
  for (int i = 0; i < files; ++i) downloads.push_back(fetch(i));
  std::size_t bytes = 0;
  for (std::size_t size : co_await concur::gather(std::move(downloads))) bytes += size;
  co_return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const int files = argc > 1 ? std::atoi(argv[1]) : 500;
  const int latency_ms = argc > 2 ? std::atoi(argv[2]) : 100;
  if (files < 20 || latency_ms < 0) {
    std::fprintf(stderr, "usage: %s [files >= 20] [latency in ms >= 0]\n", argv[0]);
    return 2;
  }
  concur::http::LocalDataService cloud({.latency = std::chrono::milliseconds(latency_ms)});
  const std::string base = cloud.url();

  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) concur::http::get(base + "/files/" + std::to_string(i)).raise_for_status();
  std::printf("sequential           : %6.2f s for %d files (20 fetched, scaled)\n",
              seconds_since(start) * files / 20, files);

  start = Clock::now();
  {
    concur::ThreadPool pool(100);
    std::vector<concur::Future<std::size_t>> downloads;
    for (int i = 0; i < files; ++i) {
      downloads.push_back(pool.submit([&base, i] { return concur::http::get(base + "/files/" + std::to_string(i)).body.size(); }));
    }
    for (auto& d : downloads) d.get();
  }
  std::printf("ThreadPool(100)      : %6.2f s for %d files\n", seconds_since(start), files);

  start = Clock::now();
  const std::size_t bytes = concur::run(fetch_all(base, files));
  std::printf("loop, 100 at a time  : %6.2f s for %d files (%zu bytes)\n", seconds_since(start), files, bytes);
}
