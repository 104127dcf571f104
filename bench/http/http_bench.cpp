// HTTP benchmarks. Clients: 10,000 GETs of a 1 KiB file over keep-alive, 10 or 100 at a
// time, every one against the same nginx (one worker) started here: concur's http::Client
// on the loop, raw libcurl multi (the C ceiling), concur's blocking http::get on a
// ThreadPool, and python_peer.py's aiohttp (asyncio and uvloop) and requests on a
// ThreadPoolExecutor. Servers: wrk (one thread, 10 or 100 connections, 3 s) against
// `concur serve` and against that nginx. bench/run.py prints the ratios.
//
// Items: requests. The Python peers and wrk time themselves (manual time), so neither
// interpreter nor process start-up is counted.
#include <concur/http/blocking.hpp>
#include <concur/http/client.hpp>
#include <concur/http/data_service.hpp>
#include <concur/loop/run.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/net/subprocess.hpp>
#include <concur/thread/thread_pool.hpp>

#include "../cpu_time.hpp"
#include "support/nginx.hpp"  // tests/support: the nginx the HTTP tests use

#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr long kRequests = 10'000;
constexpr std::size_t kFileSize = 1024;

// The one nginx of this run, serving /files/1 (what `concur serve` serves there).
const concur::test::Nginx& nginx() {
  static const auto server = [] {
    auto n = std::make_unique<concur::test::Nginx>("");
    n->put("/files/1", concur::http::data_file(1, kFileSize, concur::http::DataFormat::json));
    return n;
  }();
  return *server;
}

std::string file_url() { return nginx().url() + "/files/1"; }

bool usable(benchmark::State& state) {
  if (concur::test::Nginx::installed()) return true;
  state.SkipWithError("nginx is not installed (scripts/deps.sh installs nginx-light)");
  return false;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

// ---- concur's loop client ------------------------------------------------------------------
concur::Task<void> fetch_in_turn(concur::http::Client& client, const std::string& url, long count) {
  for (long i = 0; i < count; ++i) {
    const concur::http::Response r = co_await client.get(url);
    check(r.status == 200 && r.body.size() == kFileSize, "concur: a bad response");
  }
}

concur::Task<void> fetch_concurrently(std::string url, long requests, long concurrency) {
  concur::http::ClientOptions options;
  options.max_connections = static_cast<std::size_t>(concurrency);
  concur::http::Client client(options);
  std::vector<concur::TaskHandle<void>> workers;
  for (long w = 0; w < concurrency; ++w) {
    const long share = requests / concurrency + (w < requests % concurrency ? 1 : 0);
    workers.push_back(concur::spawn(fetch_in_turn(client, url, share)));
  }
  for (auto& w : workers) co_await w;
}

void BM_Http_Concur(benchmark::State& state) {
  if (!usable(state)) return;
  const std::string url = file_url();
  for (auto _ : state) concur::run(fetch_concurrently(url, kRequests, state.range(0)));
  state.SetItemsProcessed(state.iterations() * kRequests);
}
BENCHMARK(BM_Http_Concur)->Arg(10)->Arg(100)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- raw libcurl multi: `concurrency` easy handles, each re-added when it finishes -------------
// curl_multi_poll, the simplest fast form. It keeps only the body: it builds no Response
// (headers), which is part of what concur's figure pays for.
std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

void fetch_with_curl_multi(const std::string& url, long requests, long concurrency) {
  struct Easy {
    CURL* handle = nullptr;
    std::string body;
  };
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, concurrency);
  std::vector<Easy> easies(static_cast<std::size_t>(concurrency));
  long started = 0, finished = 0;
  for (Easy& e : easies) {
    e.handle = curl_easy_init();
    curl_easy_setopt(e.handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e.handle, CURLOPT_WRITEFUNCTION, &keep_body);
    curl_easy_setopt(e.handle, CURLOPT_WRITEDATA, &e.body);
    curl_easy_setopt(e.handle, CURLOPT_PRIVATE, &e);
    // The request concur's defaults make, byte for byte, with the same limits: the
    // difference measured is concur's own, not a different HTTP exchange.
    curl_easy_setopt(e.handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e.handle, CURLOPT_USERAGENT, "concur/0.1");
    curl_easy_setopt(e.handle, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e.handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e.handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e.handle, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e.handle, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e.handle, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    curl_easy_setopt(e.handle, CURLOPT_TIMEOUT_MS, 60'000L);
    curl_easy_setopt(e.handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e.handle, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(e.handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t{100} << 20);
    if (started < requests) {
      curl_multi_add_handle(multi, e.handle);
      ++started;
    }
  }
  bool ok = true;
  while (finished < requests && ok) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      Easy* e = nullptr;
      long status = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &e);
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      ok = ok && m->data.result == CURLE_OK && status == 200 && e->body.size() == kFileSize;
      ++finished;
      curl_multi_remove_handle(multi, e->handle);
      e->body.clear();
      if (started < requests) {
        curl_multi_add_handle(multi, e->handle);
        ++started;
      }
    }
    if (finished < requests) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  for (Easy& e : easies) {
    curl_multi_remove_handle(multi, e.handle);
    curl_easy_cleanup(e.handle);
  }
  curl_multi_cleanup(multi);
  check(ok, "libcurl multi: a bad response");
}

void BM_Http_CurlMulti(benchmark::State& state) {
  if (!usable(state)) return;
  const std::string url = file_url();
  for (auto _ : state) fetch_with_curl_multi(url, kRequests, state.range(0));
  state.SetItemsProcessed(state.iterations() * kRequests);
}
BENCHMARK(BM_Http_CurlMulti)->Arg(10)->Arg(100)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- concur against raw libcurl, paired ------------------------------------------------------
// The two clients in turn, `kPairs` times, the order swapped every pair. Counters: the
// median, lowest and highest of the pairs' throughput ratios (concur / raw, wall-clock),
// and the median ratio of the CPU the two spent (raw's CPU / concur's: above 1 when
// concur spends less). On a machine whose speed drifts over seconds these are the
// steadier figures: both halves of a pair see nearly the same machine, where the two
// benchmarks above run a minute apart; and CPU time does not count waits for a core.
constexpr int kPairs = 10;

struct Spent {
  double wall_s, cpu_s;
};

Spent spent_on(const auto& run) {
  // This process: the client, not nginx.
  const auto cpu_now = [] { return concur::bench::cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID); };
  const double cpu_start = cpu_now();
  const auto start = std::chrono::steady_clock::now();
  run();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), cpu_now() - cpu_start};
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

void BM_Http_ConcurOverCurlMulti_Paired(benchmark::State& state) {
  if (!usable(state)) return;
  const std::string url = file_url();
  const long concurrency = state.range(0);
  const auto concur_run = [&] { concur::run(fetch_concurrently(url, kRequests, concurrency)); };
  const auto raw_run = [&] { fetch_with_curl_multi(url, kRequests, concurrency); };
  std::vector<double> wall_ratios, cpu_ratios;
  for (auto _ : state) {
    for (int pair = 0; pair < kPairs; ++pair) {
      Spent concur_spent{}, raw_spent{};
      if (pair % 2 == 0) {
        concur_spent = spent_on(concur_run);
        raw_spent = spent_on(raw_run);
      } else {
        raw_spent = spent_on(raw_run);
        concur_spent = spent_on(concur_run);
      }
      wall_ratios.push_back(raw_spent.wall_s / concur_spent.wall_s);  // requests/s are 1/seconds
      cpu_ratios.push_back(raw_spent.cpu_s / concur_spent.cpu_s);
    }
  }
  state.counters["ratio_median"] = median_of(wall_ratios);
  state.counters["ratio_low"] = *std::min_element(wall_ratios.begin(), wall_ratios.end());
  state.counters["ratio_high"] = *std::max_element(wall_ratios.begin(), wall_ratios.end());
  state.counters["cpu_ratio_median"] = median_of(cpu_ratios);
  state.SetItemsProcessed(state.iterations() * kPairs * 2 * kRequests);
}
BENCHMARK(BM_Http_ConcurOverCurlMulti_Paired)->Arg(10)->Arg(100)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- concur's blocking client on a ThreadPool (the peer of requests on threads) -------------
void BM_Http_ThreadPool(benchmark::State& state) {
  if (!usable(state)) return;
  const std::string url = file_url();
  for (auto _ : state) {
    concur::ThreadPool pool(static_cast<std::size_t>(state.range(0)));
    std::vector<concur::Future<std::size_t>> sizes;
    sizes.reserve(kRequests);
    for (long i = 0; i < kRequests; ++i) {
      sizes.push_back(pool.submit([&url] { return concur::http::get(url).body.size(); }));
    }
    for (auto& s : sizes) check(s.get() == kFileSize, "http::get: a bad response");
  }
  state.SetItemsProcessed(state.iterations() * kRequests);
}
BENCHMARK(BM_Http_ThreadPool)->Arg(10)->Arg(100)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- subprocesses: the Python peers, wrk, concur serve ---------------------------------------
concur::Task<std::string> output_of(std::string program, std::vector<std::string> args) {
  concur::SubprocessOptions options;
  options.stdout_mode = concur::Redirect::pipe;
  concur::Subprocess p = co_await concur::create_subprocess_exec(std::move(program), std::move(args), options);
  const concur::SubprocessOutput out = co_await p.communicate();
  if (out.returncode != 0) throw std::runtime_error("exit status " + std::to_string(out.returncode));
  co_return out.out;
}

// One timed run of python_peer.py; seconds as the iteration's time.
void python_peer(benchmark::State& state, const char* mode) {
  if (!usable(state)) return;
  for (auto _ : state) {
    std::vector<std::string> args{CONCUR_BENCH_SOURCE_DIR "/http/python_peer.py", mode, file_url(),
                                  std::to_string(kRequests), std::to_string(state.range(0))};
    try {
      state.SetIterationTime(std::stod(concur::run(output_of("/usr/bin/python3", std::move(args)))));
    } catch (const std::exception& e) {
      state.SkipWithError((std::string("python_peer.py ") + mode + ": " + e.what()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kRequests);
}

// wrk: one thread, `connections` connections, 3 s; its requests and seconds are the figures.
concur::Task<void> run_wrk(benchmark::State& state, std::string url) {
  std::vector<std::string> args{"-t1", "-c" + std::to_string(state.range(0)), "-d3s", std::move(url)};
  const std::string out = co_await output_of("/usr/bin/wrk", std::move(args));
  std::smatch m;
  if (out.find("Non-2xx") != std::string::npos || out.find("Socket errors") != std::string::npos ||
      !std::regex_search(out, m, std::regex(R"((\d+) requests in ([0-9.]+)(us|ms|s|m),)"))) {
    throw std::runtime_error("wrk reported errors or no total:\n" + out);
  }
  const double scale = m[3] == "us" ? 1e-6 : m[3] == "ms" ? 1e-3 : m[3] == "m" ? 60 : 1;
  state.SetIterationTime(std::stod(m[2]) * scale);
  state.SetItemsProcessed(std::stol(m[1]));  // one iteration per repetition
}

void BM_Wrk_Nginx(benchmark::State& state) {
  if (!usable(state)) return;
  for (auto _ : state) {
    try {
      concur::run(run_wrk(state, file_url()));
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
  }
}

// `concur serve` as its own process, as nginx is: no latency, 1 KiB JSON files.
concur::Task<void> wrk_against_concur_serve(benchmark::State& state) {
  concur::SubprocessOptions options;
  options.stdout_mode = concur::Redirect::pipe;
  std::vector<std::string> args{"serve", "--port", "0", "--latency-ms", "0", "--size", std::to_string(kFileSize)};
  concur::Subprocess server = co_await concur::create_subprocess_exec(CONCUR_BENCH_CLI, std::move(args), options);
  const std::string banner = co_await server.stdout_pipe().read_line(1000, 10s);
  std::smatch m;
  if (!std::regex_search(banner, m, std::regex(R"(http://[0-9.:]+)"))) {
    throw std::runtime_error("concur serve printed no URL: " + banner);
  }
  const std::string url = m.str(0) + "/files/1";
  std::exception_ptr failure;
  for (auto _ : state) {
    try {
      co_await run_wrk(state, url);
    } catch (...) {
      failure = std::current_exception();
      break;
    }
  }
  server.send_signal(SIGINT);  // graceful close
  co_await server.wait();
  if (failure) std::rethrow_exception(failure);
}

void BM_Wrk_ConcurServe(benchmark::State& state) {
  try {
    concur::run(wrk_against_concur_serve(state));
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("concur serve: ") + e.what()).c_str());
  }
}

[[maybe_unused]] const bool registered = [] {
  for (const auto& [name, mode] : {std::pair{"PY_Aiohttp", "aiohttp"}, std::pair{"PY_AiohttpUvloop", "aiohttp-uvloop"},
                                   std::pair{"PY_Requests_ThreadPool", "requests-threads"}}) {
    benchmark::RegisterBenchmark(name, python_peer, mode)
        ->Arg(10)->Arg(100)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_Wrk_ConcurServe", BM_Wrk_ConcurServe)
      ->Arg(10)->Arg(100)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Wrk_Nginx", BM_Wrk_Nginx)
      ->Arg(10)->Arg(100)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
