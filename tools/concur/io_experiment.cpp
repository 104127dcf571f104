#include "io_experiment.hpp"

#include <concur/http/blocking.hpp>
#include <concur/http/client.hpp>
#include <concur/http/data_service.hpp>
#include <concur/loop/gather.hpp>
#include <concur/loop/lock.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/to_thread.hpp>
#include <concur/thread/thread_pool.hpp>

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace concur::cli {
namespace {

using Clock = std::chrono::steady_clock;

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The CPU part of handling a file: hashes its bytes over and over for `cpu_ms` of this
// thread's CPU time (parsing and reducing a real file would take about as long).
std::uint64_t process(const std::string& body, double cpu_ms) {
  std::uint64_t hash = 1469598103934665603ULL;
  const double until = thread_cpu_seconds() + cpu_ms * 1e-3;
  do {
    for (const char c : body) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  } while (thread_cpu_seconds() < until);
  return hash;
}

std::string file_url(const std::string& base, std::size_t i) { return base + "/files/" + std::to_string(i); }

std::uint64_t fetch_and_process(const std::string& base, std::size_t i, double cpu_ms) {
  const http::Response r = http::get(file_url(base, i));
  r.raise_for_status();
  return process(r.body, cpu_ms);
}

// Times `body` (which fetches `n` files) as wall and CPU seconds, the server's CPU excluded.
template <class F>
IoMeasurement measure(std::string mode, std::size_t n, const http::LocalDataService& server, F body) {
  const double cpu0 = process_cpu_seconds() - server.cpu_seconds();
  const auto t0 = Clock::now();
  body();
  IoMeasurement m;
  m.mode = std::move(mode);
  m.fetched = n;
  m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  m.cpu_seconds = process_cpu_seconds() - server.cpu_seconds() - cpu0;
  return m;
}

Task<void> fetch_all_on_loop(std::string base, std::size_t files, double cpu_ms, std::size_t concurrency,
                             bool cpu_on_threads) {
  http::ClientOptions options;
  options.max_connections = concurrency;  // 0: as many as there are requests
  http::Client client(options);
  Semaphore slots(concurrency == 0 ? files : concurrency);
  auto one = [&](std::size_t i) -> Task<void> {
    auto slot = co_await slots.scoped();
    const http::Response r = co_await client.get(file_url(base, i));
    r.raise_for_status();
    if (cpu_on_threads) {
      auto job = [body = r.body, cpu_ms] { return process(body, cpu_ms); };
      (void)co_await to_thread(job);
    } else {
      (void)process(r.body, cpu_ms);  // on the loop's one thread, as asyncio code would
    }
  };
  std::vector<Task<void>> all;
  all.reserve(files);
  for (std::size_t i = 0; i < files; ++i) all.push_back(one(i));
  co_await gather(std::move(all));
}

// Client and server share this process: all at once, each file holds two descriptors.
void allow_descriptors_for(std::size_t files) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(2 * files + 256);
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(limit.rlim_max, wanted);
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

std::vector<IoMeasurement> run_io_experiment(const IoExperimentConfig& config) {
  if (config.files == 0 || config.sequential_files == 0) throw std::invalid_argument("the I/O experiment needs files");
  allow_descriptors_for(config.files);
  http::DataServiceOptions service;
  service.latency = std::chrono::milliseconds(config.latency_ms);
  service.file_size = config.file_size;
  const http::LocalDataService server(service);
  const std::string base = server.url();
  const double cpu_ms = config.cpu_ms;
  const std::size_t files = config.files;
  std::vector<IoMeasurement> results;

  const std::size_t sample = std::min(config.sequential_files, files);
  IoMeasurement sequential = measure("sequential", sample, server, [&] {
    for (std::size_t i = 0; i < sample; ++i) (void)fetch_and_process(base, i, cpu_ms);
  });
  if (sample < files) {
    const double scale = static_cast<double>(files) / static_cast<double>(sample);
    sequential.seconds *= scale;
    sequential.cpu_seconds *= scale;
    sequential.scaled = true;
  }
  results.push_back(sequential);

  for (const std::size_t threads : {std::size_t{20}, std::size_t{100}}) {
    results.push_back(measure("ThreadPool(" + std::to_string(threads) + ")", files, server, [&] {
      ThreadPool pool(threads);
      std::vector<Future<std::uint64_t>> futures;
      futures.reserve(files);
      for (std::size_t i = 0; i < files; ++i) futures.push_back(pool.submit(fetch_and_process, base, i, cpu_ms));
      for (auto& f : futures) (void)f.get();
    }));
  }
  results.push_back(measure("loop, 100 at a time", files, server,
                            [&] { run(fetch_all_on_loop(base, files, cpu_ms, 100, false)); }));
  results.push_back(measure("loop, all at once", files, server,
                            [&] { run(fetch_all_on_loop(base, files, cpu_ms, 0, false)); }));
  results.push_back(measure("loop + to_thread", files, server,
                            [&] { run(fetch_all_on_loop(base, files, cpu_ms, 0, true)); }));
  for (IoMeasurement& m : results) m.requests_per_second = m.seconds > 0 ? static_cast<double>(files) / m.seconds : 0;
  return results;
}

}  // namespace concur::cli
