// ProcessPool: what runs, what travels, the start methods, options and observer.
// Faults (crashes, kills, timeouts, recycling) are in process_faults_test.cpp.
#include <concur/process/process_pool.hpp>

#include <concur/loop/event_loop.hpp>

#include "support/counter_range.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

int square(int x) { return x * x; }
int pid_of_worker() { return ::getpid(); }
int pid_after_20ms() {
  ::usleep(20'000);  // the task's length, not a synchronisation
  return ::getpid();
}
std::string join(std::vector<std::string> words, std::string separator) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) out += (i ? separator : "") + words[i];
  return out;
}
std::map<std::string, int> count_letters(std::string text) {
  std::map<std::string, int> counts;
  for (char c : text) ++counts[std::string(1, c)];
  return counts;
}
void do_nothing() {}

// A user type with a cereal serialize(), and one that is only trivially copyable.
struct Particle {
  std::string name;
  std::vector<double> position;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, position);
  }
};
Particle move_particle(Particle p, double dx) {
  for (double& x : p.position) x += dx;
  p.name += "'";
  return p;
}
struct Vec3 {
  double x, y, z;
};
static_assert(!detail::cereal_serializable<Vec3> && detail::bytewise_transportable<Vec3>);
Vec3 scale(Vec3 v, double k) { return {v.x * k, v.y * k, v.z * k}; }

// A function object that travels by value.
struct Affine {
  double a = 0, b = 0;
  double operator()(double x) const { return a * x + b; }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(a, b);
  }
};

std::string environment_variable(std::string name) {
  const char* value = std::getenv(name.c_str());
  return value != nullptr ? value : "<unset>";
}

std::string process_name() {
  char name[16] = {};
  ::prctl(PR_GET_NAME, name);
  return name;
}

class StartMethods : public testing::TestWithParam<StartMethod> {
 protected:
  ProcessPoolOptions options() const {
    return {.start_method = GetParam(), .allow_fork_with_threads = true};
  }
};

INSTANTIATE_TEST_SUITE_P(ProcessPool, StartMethods,
                         testing::Values(StartMethod::forkserver, StartMethod::fork,
                                         StartMethod::spawn),
                         [](const testing::TestParamInfo<StartMethod>& param) {
                           switch (param.param) {
                             case StartMethod::forkserver: return std::string("forkserver");
                             case StartMethod::fork: return std::string("fork");
                             case StartMethod::spawn: return std::string("spawn");
                           }
                           return std::string("unknown");
                         });

TEST_P(StartMethods, RunsFunctionsLambdasAndFunctionObjectsInOtherProcesses) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2, options());
  EXPECT_EQ(pool.submit(square, 12).get(), 144);
  EXPECT_EQ(pool.submit(&square, -3).get(), 9);
  EXPECT_EQ(pool.submit([](int a, long b) { return a + b; }, 2, 40L).get(), 42L);
  EXPECT_DOUBLE_EQ(pool.submit(Affine{2.0, 1.0}, 20.0).get(), 41.0);
  pool.submit(do_nothing).get();
  const int pid = pool.submit(pid_of_worker).get();
  EXPECT_NE(pid, ::getpid());
  const auto pids = pool.worker_pids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end());
}

TEST_P(StartMethods, CarriesContainersUserTypesAndTriviallyCopyableValues) {
  test::NoLeaks no_leaks;
  ProcessPool pool(1, options());
  EXPECT_EQ(pool.submit(join, std::vector<std::string>{"a", "b", "c"}, std::string("-")).get(),
            "a-b-c");
  const auto counts = pool.submit(count_letters, std::string("abca")).get();
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 2}, {"b", 1}, {"c", 1}}));
  const Particle moved = pool.submit(move_particle, Particle{"p", {1.0, 2.0}}, 0.5).get();
  EXPECT_EQ(moved.name, "p'");
  EXPECT_EQ(moved.position, (std::vector<double>{1.5, 2.5}));
  const Vec3 v = pool.submit(scale, Vec3{1, 2, 3}, 2.0).get();
  EXPECT_EQ(v.z, 6.0);
  const std::string big(3 << 20, 'x');  // larger than a socket buffer: partial writes
  EXPECT_EQ(pool.submit([](std::string s) { return s.size(); }, big).get(), big.size());
}

TEST_P(StartMethods, MapKeepsInputOrderAcrossChunks) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2, options());
  std::vector<int> inputs(1000);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::vector<int> out;
  for (int y : pool.map(square, inputs, {.chunksize = 7})) out.push_back(y);
  ASSERT_EQ(out.size(), inputs.size());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[i], i * i);
}

// Results over FrameRing::kMaxEntry (4 KiB) travel on the channel, the others in the ring.
std::string letters(int n) { return std::string(static_cast<std::size_t>(n), 'x'); }

TEST_P(StartMethods, ResultsTooLargeForTheResultRingKeepTheirOrderAmongSmallOnes) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2, options());
  const auto size_of = [](int i) { return i % 3 == 0 ? 5000 + i : i % 50; };
  std::vector<int> sizes(300);
  for (int i = 0; i < 300; ++i) sizes[i] = size_of(i);
  std::vector<Future<std::string>> futures;
  for (int n : sizes) futures.push_back(pool.submit(letters, n));
  for (int i = 0; i < 300; ++i) EXPECT_EQ(futures[i].get().size(), static_cast<std::size_t>(sizes[i])) << i;
  int i = 0;
  for (const std::string& s : pool.map(letters, sizes, {.chunksize = 1})) {
    EXPECT_EQ(s.size(), static_cast<std::size_t>(sizes[i])) << i;
    ++i;
  }
  EXPECT_EQ(i, 300);
}

// Tasks over FrameRing::kMaxEntry travel on the channel, the others in the task ring.
std::size_t length_of(const std::string& s) { return s.size(); }

TEST_P(StartMethods, TasksTooLargeForTheTaskRingKeepTheirOrderAmongSmallOnes) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2, options());
  std::vector<std::string> inputs;
  for (int i = 0; i < 300; ++i) inputs.push_back(letters(i % 3 == 0 ? 5000 + i : i % 50));
  std::vector<Future<std::size_t>> futures;
  for (const std::string& input : inputs) futures.push_back(pool.submit(length_of, input));
  for (int i = 0; i < 300; ++i) EXPECT_EQ(futures[i].get(), inputs[i].size()) << i;
  int i = 0;
  for (std::size_t n : pool.map(length_of, inputs, {.chunksize = 1})) {
    EXPECT_EQ(n, inputs[i].size()) << i;
    ++i;
  }
  EXPECT_EQ(i, 300);
}

TEST_P(StartMethods, WorkersGetOneBlasThreadAndTheirNames) {
  ProcessPool pool(1, options());
  EXPECT_EQ(pool.submit(environment_variable, std::string("OPENBLAS_NUM_THREADS")).get(), "1");
  EXPECT_EQ(pool.submit(environment_variable, std::string("MKL_NUM_THREADS")).get(), "1");
  EXPECT_EQ(pool.submit(process_name).get(), "concur-0");
}

// PR_SET_PDEATHSIG fires when the *thread* that forked a process ends: workers (and the
// fork server) must not be the children of the thread that happened to build the pool.
TEST_P(StartMethods, APoolOutlivesTheThreadThatBuiltIt) {
  std::unique_ptr<ProcessPool> pool;
  int first = 0;
  std::thread([&] {
    pool = std::make_unique<ProcessPool>(1, options());
    first = pool->submit(pid_of_worker).get();  // the worker is up before the thread ends
  }).join();
  EXPECT_EQ(pool->submit(square, 7).get(), 49);
  EXPECT_EQ(pool->submit(pid_of_worker).get(), first) << "the worker was replaced";
  pool.reset();
}

TEST_P(StartMethods, WorkAfterAnEventLoopInstalledItsForkHandlers) {
  // libuv's first loop makes a process-wide pipe and a pthread_atfork handler that, in
  // every forked child, closes that pipe's fds *by number* and makes a new one. With the
  // pipe on fds 5 and 6 (3 and 4 held below), a zygote that closed its inherited fds and
  // later forked a worker with fork() had the handler close the worker's new channel
  // (fds 5 and 6 again): every worker died at start. This runs in its own process (one
  // per test case), so this loop is the process's first.
  const int held_3 = ::open("/dev/null", O_RDONLY | O_CLOEXEC), held_4 = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  { EventLoop first; }
  ::close(held_3);
  ::close(held_4);
  ProcessPool pool(2, {.start_method = GetParam()});
  std::vector<Future<int>> results;
  for (int i = 0; i < 8; ++i) results.push_back(pool.submit(square, i));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)].get(), i * i);
}

TEST(ProcessPool, ThreadsPerWorkerSetsTheBlasVariables) {
  ProcessPool pool(1, {.threads_per_worker = 3, .name = "sim"});
  EXPECT_EQ(pool.submit(environment_variable, std::string("OMP_NUM_THREADS")).get(), "3");
  EXPECT_EQ(pool.submit(process_name).get(), "sim-0");
}

TEST(ProcessPool, MapOverVoidFunctionYieldsMonostate) {
  ProcessPool pool(1);
  std::size_t n = 0;
  for (std::monostate m : pool.map([](int) {}, std::vector<int>{1, 2, 3})) {
    (void)m;
    ++n;
  }
  EXPECT_EQ(n, 3u);
}

TEST(ProcessPool, MapIsLazyOverAnEndlessInput) {
  ProcessPool pool(2);
  int taken = 0;
  for (int y : pool.map(square, test::Counter{}, {.chunksize = 4, .in_flight = 3})) {
    EXPECT_EQ(y, taken * taken);
    if (++taken == 50) break;
  }
  EXPECT_EQ(taken, 50);
}

TEST(ProcessPool, RejectsBadArguments) {
  EXPECT_THROW(ProcessPool(0), std::invalid_argument);
  EXPECT_THROW(ProcessPool(1, {.max_frame_bytes = 100}), std::invalid_argument);
  EXPECT_THROW(ProcessPool(1, {.kill_grace = std::chrono::milliseconds(-1)}), std::invalid_argument);
  ProcessPool pool(1);
  EXPECT_THROW(pool.map(square, std::vector<int>{1}, {.chunksize = 0}), std::invalid_argument);
}

TEST(ProcessPool, ForkIsRefusedWhileOtherThreadsRunUnlessAllowed) {
  test::NoLeaks no_leaks;
  std::mutex gate;
  std::unique_lock hold(gate);
  std::thread other([&] { std::lock_guard wait_for_test(gate); });
  try {
    ProcessPool pool(1, {.start_method = StartMethod::fork});
    ADD_FAILURE() << "fork with another thread running was accepted";
  } catch (const InvalidState& e) {
    EXPECT_NE(std::string(e.what()).find("allow_fork_with_threads"), std::string::npos) << e.what();
  }
  {
    ProcessPool pool(1, {.start_method = StartMethod::fork, .allow_fork_with_threads = true});
    EXPECT_EQ(pool.submit(square, 5).get(), 25);
  }
  hold.unlock();
  other.join();
}

TEST(ProcessPool, SubmitAfterShutdownThrowsBrokenExecutor) {
  ProcessPool pool(1);
  pool.shutdown();
  EXPECT_THROW(pool.submit(square, 1), BrokenExecutor);
  pool.shutdown();  // idempotent
}

TEST(ProcessPool, ATaskLargerThanTheFrameLimitIsRefusedAtSubmit) {
  ProcessPool pool(1, {.max_frame_bytes = 4096});
  EXPECT_THROW(pool.submit([](std::string s) { return s.size(); }, std::string(10000, 'x')),
               SerializationError);
  auto oversized_result = pool.submit([](int n) { return std::string(static_cast<std::size_t>(n), 'y'); }, 10000);
  EXPECT_THROW((void)oversized_result.get(), SerializationError);
  EXPECT_EQ(pool.submit(square, 4).get(), 16) << "the pool goes on";
}

// A type whose load() reads what save() did not write: decoding fails in the worker.
struct Lopsided {
  int value = 0;
  template <class Archive>
  void save(Archive& archive) const {
    archive(value);
  }
  template <class Archive>
  void load(Archive& archive) {
    std::string more;
    archive(value, more);
  }
};
int read_lopsided(Lopsided l) { return l.value; }

TEST(ProcessPool, AnArgumentThatDoesNotDecodeIsASerializationError) {
  ProcessPool pool(1);
  auto f = pool.submit(read_lopsided, Lopsided{7});
  EXPECT_THROW((void)f.get(), SerializationError);
  EXPECT_EQ(pool.submit(square, 3).get(), 9);
}

TEST(ProcessPool, InitializerRunsOncePerWorker) {
  ProcessPool pool(2, {.initializer = +[] { ::setenv("CONCUR_TEST_INIT", "done", 1); }});
  EXPECT_EQ(pool.submit(environment_variable, std::string("CONCUR_TEST_INIT")).get(), "done");
}

TEST(ProcessPool, FailingInitializerBreaksThePoolWithTheReason) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2, {.initializer = +[] { throw std::runtime_error("no licence server"); }});
  std::optional<Future<int>> future;
  try {
    // The workers may have failed already (submit refuses) or not yet (the future fails).
    // The future outlives the handler: its state holds the exception being read.
    future = pool.submit(square, 2);
    (void)future->get();
    FAIL() << "expected BrokenExecutor";
  } catch (const BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("no licence server"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pool.submit(square, 3), BrokenExecutor);
}

TEST(ProcessPool, InitializerThatCrashesBreaksThePool) {
  ProcessPool pool(1, {.initializer = +[] { std::abort(); }});
  std::optional<Future<int>> future;
  try {
    // The worker may have died already (submit refuses) or not yet (the future fails).
    // The future outlives the handler: its state holds the exception being read.
    future = pool.submit(square, 2);
    (void)future->get();
    FAIL() << "expected BrokenExecutor";
  } catch (const BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("SIGABRT"), std::string::npos) << e.what();
  }
}

struct Recorder : Observer {
  std::mutex mutex;
  std::set<int> pids;
  std::set<std::uint64_t> submitted, started, finished;
  std::size_t failures = 0;
  void on_worker_process(std::size_t, int pid) override {
    std::lock_guard lock(mutex);
    pids.insert(pid);
  }
  void on_submit(std::uint64_t task) override {
    std::lock_guard lock(mutex);
    submitted.insert(task);
  }
  void on_start(std::uint64_t task, std::size_t) override {
    std::lock_guard lock(mutex);
    started.insert(task);
  }
  void on_finish(std::uint64_t task, std::size_t, bool failed) override {
    std::lock_guard lock(mutex);
    finished.insert(task);
    failures += failed ? 1 : 0;
  }
};

TEST(ProcessPool, ObserverSeesWorkerPidsAndEveryTask) {
  auto recorder = std::make_shared<Recorder>();
  {
    ProcessPool pool(2, {.observer = recorder});
    std::vector<Future<int>> futures;
    for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(square, i));
    futures.push_back(pool.submit([]() -> int { throw std::logic_error("x"); }));
    for (auto& f : futures) f.wait();
    const auto pids = pool.worker_pids();
    // A worker may still be starting when every task is done (all ran on the other):
    // the observer hears of it once it is ready. Wait for that, bounded.
    const auto all_announced = [&] {
      std::lock_guard lock(recorder->mutex);
      for (int pid : pids) {
        if (pid != 0 && recorder->pids.count(pid) == 0) return false;
      }
      return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!all_announced() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    std::lock_guard lock(recorder->mutex);
    for (int pid : pids) EXPECT_TRUE(pid == 0 || recorder->pids.count(pid)) << pid;
  }
  EXPECT_EQ(recorder->submitted.size(), 21u);
  EXPECT_EQ(recorder->started, recorder->submitted);
  EXPECT_EQ(recorder->finished, recorder->submitted);
  EXPECT_EQ(recorder->failures, 1u);
}

TEST(ProcessPoolDispatch, AnIdlePoolSendsTheNextTaskToTheWorkerThatAnsweredLast) {
  // That worker is the one still polling its channel: no wake-up on the round trip.
  test::NoLeaks no_leaks;
  ProcessPool pool(2);
  const int first = pool.submit(pid_of_worker).get();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(pool.submit(pid_of_worker).get(), first) << "task " << i;
  // Work that overlaps still spreads: the busy worker is not the least loaded.
  auto a = pool.submit(pid_after_20ms);
  auto b = pool.submit(pid_after_20ms);
  EXPECT_NE(a.get(), b.get());
}

std::string echo_with_pid(std::string text) { return text + std::to_string(::getpid()); }

TEST(ProcessPoolDispatch, ShortTasksOfNearlyAnEntryEachFillNeitherRing) {
  // Tasks this short go 64 at a time, and 64 entries of 3.5 KiB are more than a ring
  // holds: the pool sends no more than the task ring holds, and the worker waits for
  // room in its result ring. A task ring that overflowed would stop the worker.
  test::NoLeaks no_leaks;
  ProcessPool pool(1);
  const std::string pid = std::to_string(pool.submit(pid_of_worker).get());
  for (int i = 0; i < 200; ++i) (void)pool.submit(square, i).get();  // tasks measured as tiny
  const std::string text(3500, 'x');
  std::vector<Future<std::string>> futures;
  for (int i = 0; i < 1000; ++i) futures.push_back(pool.submit(echo_with_pid, text));
  for (auto& f : futures) ASSERT_EQ(f.get(), text + pid) << "the same worker answered all";
}

}  // namespace
}  // namespace concur
