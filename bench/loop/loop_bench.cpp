// Event-loop benchmarks; bench/loop/python_peer.py measures the same workloads with
// asyncio and uvloop, and serves the uvloop echo peer; bench/run.py prints the ratios.
//
// Items: callbacks, resumes, timers, tasks, echo round trips. Sleeping tasks also
// report bytes_per_task: heap bytes in use (glibc mallinfo2) per sleeping task.
#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>
#include <concur/net/connect.hpp>
#include <concur/net/server.hpp>
#include <concur/net/subprocess.hpp>

#include "../cpu_time.hpp"

#include <benchmark/benchmark.h>

#include <malloc.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// ---- callbacks, resumes, timers ------------------------------------------------------------
concur::Task<void> post_callbacks(long n) {
  concur::EventLoop& loop = *concur::EventLoop::current();
  long ran = 0;
  for (long i = 0; i < n; ++i) loop.call_soon([&ran] { ++ran; });
  while (ran < n) co_await concur::yield_now();
}

void BM_Loop_CallSoon1M(benchmark::State& state) {
  constexpr long kCallbacks = 1'000'000;
  for (auto _ : state) concur::run(post_callbacks(kCallbacks));
  state.SetItemsProcessed(state.iterations() * kCallbacks);
}
BENCHMARK(BM_Loop_CallSoon1M)->UseRealTime()->Unit(benchmark::kMillisecond);

concur::Task<void> yield_many(long n) {
  for (long i = 0; i < n; ++i) co_await concur::yield_now();
}

void BM_Loop_Resume(benchmark::State& state) {
  constexpr long kResumes = 1'000'000;
  for (auto _ : state) concur::run(yield_many(kResumes));
  state.SetItemsProcessed(state.iterations() * kResumes);
}
BENCHMARK(BM_Loop_Resume)->UseRealTime()->Unit(benchmark::kMillisecond);

concur::Task<void> timers(long n) {
  concur::EventLoop& loop = *concur::EventLoop::current();
  std::vector<concur::detail::OwnedTimer> all(static_cast<std::size_t>(n));
  long fired = 0;
  const auto now = concur::detail::LoopClock::now();
  for (long i = 0; i < n; ++i) {
    auto& t = all[static_cast<std::size_t>(i)];
    t.deadline = now + std::chrono::microseconds(i % 1000);  // spread over 1 ms
    t.owner = &fired;
    t.fire = [](concur::detail::LoopTimer& timer) noexcept { ++*static_cast<long*>(concur::detail::OwnedTimer::owner_of(timer)); };
    loop.add_timer(t);
  }
  while (fired < n) co_await concur::sleep(100us);
}

void BM_Loop_Timers1M(benchmark::State& state) {
  constexpr long kTimers = 1'000'000;
  for (auto _ : state) concur::run(timers(kTimers));
  state.SetItemsProcessed(state.iterations() * kTimers);
}
BENCHMARK(BM_Loop_Timers1M)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- N sleeping tasks: spawn time and memory -------------------------------------------------
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

concur::Task<void> sleeper() { co_await concur::sleep(100ms); }

concur::Task<void> spawn_sleepers(long n, double& spawn_seconds, double& bytes_per_task) {
  const std::size_t before = heap_in_use();
  const auto start = std::chrono::steady_clock::now();
  std::vector<concur::TaskHandle<void>> handles;
  handles.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) handles.push_back(concur::spawn(sleeper()));
  co_await concur::yield_now();  // every task has started and sleeps
  spawn_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bytes_per_task = static_cast<double>(heap_in_use() - before) / static_cast<double>(n);
  for (auto& h : handles) co_await h;
}

void BM_Loop_SleepingTasks(benchmark::State& state) {
  const long n = state.range(0);
  double spawn_seconds = 0, bytes = 0;
  for (auto _ : state) {
    concur::run(spawn_sleepers(n, spawn_seconds, bytes));
    state.SetIterationTime(spawn_seconds);  // the spawn, not the 100 ms of sleep
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["bytes_per_task"] = bytes;
}
BENCHMARK(BM_Loop_SleepingTasks)
    ->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000)
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- TCP echo, 1 KiB messages, against concur's server and uvloop's -----------------------
concur::Task<void> echo_handler(concur::Stream s) {
  for (;;) {
    std::string data = co_await s.read_some();
    if (data.empty()) co_return;
    s.write(data);
    co_await s.drain();
  }
}

// concur's echo server on its own thread and loop (the uvloop server has its process).
using concur::bench::cpu_seconds_of;

class ConcurEchoServer {
 public:
  ConcurEchoServer() {
    std::atomic<int> port{-1};
    thread_ = std::thread([this, &port] {
      concur::run([](ConcurEchoServer& self, std::atomic<int>& p) -> concur::Task<void> {
        concur::Server server = co_await concur::start_server(echo_handler, "127.0.0.1", 0);
        self.server_ = &server;
        self.loop_ = concur::EventLoop::current();
        p = server.port();
        co_await server.wait_closed();
      }(*this, port));
    });
    while (port < 0) std::this_thread::yield();
    port_ = static_cast<std::uint16_t>(port.load());
  }
  // CPU seconds the server thread has used.
  double cpu_seconds() const {
    clockid_t clock{};
    if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0) return 0;
    return cpu_seconds_of(clock);
  }
  ~ConcurEchoServer() {
    loop_->call_soon_threadsafe([this] {
      server_->close();
      server_->cancel_handlers();
    });
    thread_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  std::thread thread_;
  concur::Server* server_ = nullptr;
  concur::EventLoop* loop_ = nullptr;
  std::uint16_t port_ = 0;
};

concur::Task<void> echo_client(std::uint16_t port, long rounds) {
  concur::Stream s = co_await concur::open_connection("127.0.0.1", port);
  const std::string message(1024, 'x');
  for (long r = 0; r < rounds; ++r) {
    s.write(message);
    (void)co_await s.read_exactly(message.size());
  }
}

concur::Task<void> echo_load(std::uint16_t port, long connections, long rounds) {
  std::vector<concur::TaskHandle<void>> clients;
  for (long c = 0; c < connections; ++c) clients.push_back(concur::spawn(echo_client(port, rounds)));
  for (auto& c : clients) co_await c;
}

// CPU seconds a process has used (the uvloop server's).
double process_cpu_seconds(int pid) {
  clockid_t clock{};
  if (clock_getcpuclockid(pid, &clock) != 0) return 0;
  return cpu_seconds_of(clock);
}

// CPU seconds the calling thread has used (the client's: it runs the loop of echo_load).
double client_cpu_seconds() { return cpu_seconds_of(CLOCK_THREAD_CPUTIME_ID); }

// Round trips per second, and the counters server_cpu_us and client_cpu_us: the CPU time
// per round trip of the server and of the client (one thread, the same for every server,
// and mostly the kernel's TCP work). client_bound_per_s = 1 / client_cpu_us is the most
// round trips per second that this client can drive, however cheap the server: a ratio
// between two servers' throughputs cannot exceed that over the slower one's.
void count_echo(benchmark::State& state, long round_trips, double server_cpu, double client_cpu) {
  state.SetItemsProcessed(round_trips);
  state.SetBytesProcessed(round_trips * 2048);
  const auto per_round_trip = [&](double seconds) { return seconds * 1e6 / static_cast<double>(round_trips); };
  state.counters["server_cpu_us"] = per_round_trip(server_cpu);
  state.counters["client_cpu_us"] = per_round_trip(client_cpu);
  state.counters["client_bound_per_s"] = client_cpu > 0 ? static_cast<double>(round_trips) / client_cpu : 0;
}

void BM_Echo_Concur(benchmark::State& state) {
  ConcurEchoServer server;
  const long connections = state.range(0);
  const long rounds = 20'000 / connections;
  const double cpu_before = server.cpu_seconds();
  const double client_before = client_cpu_seconds();
  for (auto _ : state) concur::run(echo_load(server.port(), connections, rounds));
  count_echo(state, state.iterations() * connections * rounds, server.cpu_seconds() - cpu_before,
             client_cpu_seconds() - client_before);
}
BENCHMARK(BM_Echo_Concur)->Arg(1)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

// The uvloop echo server (asyncio Protocol, its fastest form) from python_peer.py.
concur::Task<concur::Subprocess> start_uvloop_server(std::uint16_t& port) {
  concur::SubprocessOptions options;
  options.stdin_mode = concur::Redirect::pipe;
  options.stdout_mode = concur::Redirect::pipe;
  std::vector<std::string> args;  // built outside the co_await (g++ 12 and braced lists there)
  args.emplace_back(CONCUR_BENCH_SOURCE_DIR "/loop/python_peer.py");
  args.emplace_back("serve-echo");
  concur::Subprocess p = co_await concur::create_subprocess_exec("/usr/bin/python3", std::move(args), options);
  const std::string line = co_await p.stdout_pipe().read_line(100, 10s);
  port = static_cast<std::uint16_t>(std::stoi(line));
  co_return p;
}

concur::Task<void> uvloop_echo(benchmark::State& state) {
  std::uint16_t port = 0;
  concur::Subprocess server = co_await start_uvloop_server(port);
  const long connections = state.range(0);
  const long rounds = 20'000 / connections;
  const double cpu_before = process_cpu_seconds(server.pid());
  const double client_before = client_cpu_seconds();
  for (auto _ : state) co_await echo_load(port, connections, rounds);
  count_echo(state, state.iterations() * connections * rounds, process_cpu_seconds(server.pid()) - cpu_before,
             client_cpu_seconds() - client_before);
  server.stdin_pipe().close();  // the server exits at the end of its stdin
  co_await server.wait();
}

void BM_Echo_Uvloop(benchmark::State& state) {
  try {
    concur::run(uvloop_echo(state));
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("uvloop echo server: ") + e.what()).c_str());
  }
}
BENCHMARK(BM_Echo_Uvloop)->Arg(1)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
