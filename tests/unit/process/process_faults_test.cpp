// ProcessPool under faults: tasks that crash, throw, hang or leak; workers killed from
// outside; recycling; retries; a dying parent. Every test runs in its own process
// (ctest), is bounded in time, and checks that no fd, child or /dev/shm entry is left.
#include <concur/process/process_pool.hpp>

#include "process/frame_ring.hpp"

#include "support/file_gate.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace concur {
namespace {

using namespace std::chrono_literals;

int square(int x) { return x * x; }
int my_pid() { return ::getpid(); }

int segfault_on(int x) {
  if (x == 13) {
    std::fprintf(stderr, "about to crash on input %d\n", x);
    std::raise(SIGSEGV);
  }
  return x;
}
int abort_now() { std::abort(); }
int exit_three() { std::exit(3); }
int throw_std() { throw std::out_of_range("index 7 past the end"); }
struct SolverDiverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int throw_user() { throw SolverDiverged("residual grew to 1e12"); }
int throw_int() { throw 42; }

// Waits (polling, bounded) until `release` exists, after marking `started`.
int block_until(std::string started, std::string release) {
  test::append_byte(started);
  test::wait_for_file(release);
  return 1;
}
// Writes its pid to `pid_file` (complete when it appears), then waits for `release`.
int report_pid_and_block(std::string pid_file, std::string release) {
  std::ofstream(pid_file + ".tmp") << ::getpid() << '\n';
  std::rename((pid_file + ".tmp").c_str(), pid_file.c_str());
  test::wait_for_file(release);
  return 1;
}
int hang_forever(std::string started) {
  test::append_byte(started);
  for (;;) ::pause();
}
int ignore_sigterm_and_hang(std::string started) {
  ::signal(SIGTERM, SIG_IGN);
  test::append_byte(started);
  for (;;) ::pause();
}
char* volatile leaked_block = nullptr;  // keeps the allocation from being optimised away
std::size_t allocate_and_touch(std::size_t bytes) {
  leaked_block = static_cast<char*>(std::malloc(bytes));  // leaked on purpose: RSS stays high
  std::size_t touched = 0;
  for (std::size_t i = 0; i < bytes; i += 4096, ++touched) leaked_block[i] = 1;
  return touched * 4096;
}
// Crashes the first time it runs (marked by a file), succeeds the second time.
int crash_once(std::string marker) {
  const int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd >= 0) std::raise(SIGKILL);
  return 7;
}

// Overwrites this worker's result ring's write position with nonsense, as a stray
// write from a buggy task could.
int corrupt_result_ring() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:concur-results") == std::string::npos) continue;
    auto* published = reinterpret_cast<std::uint64_t*>(std::stoull(line.substr(0, line.find('-')), nullptr, 16));
    *published = std::uint64_t{1} << 40;
    return 1;
  }
  return 0;
}

TEST(ProcessFaults, ACorruptedResultRingFailsItsTaskWithASerializationError) {
  test::NoLeaks no_leaks;
  ProcessPool pool(1);
  try {
    (void)pool.submit(corrupt_result_ring).get();
    ADD_FAILURE() << "a result came through a corrupted ring";
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("result ring"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool.submit(square, 7).get(), 49) << "a replacement worker takes over";
}

// Makes this worker's task ring look full to the pool: its read position one ring
// behind the write position.
int fill_task_ring() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:concur-tasks") == std::string::npos) continue;
    auto* published = reinterpret_cast<std::uint64_t*>(std::stoull(line.substr(0, line.find('-')), nullptr, 16));
    published[8] = published[0] - detail::FrameRing::kCapacity;  // `consumed`, a cache line on
    return 1;
  }
  return 0;
}

TEST(ProcessFaults, ATaskRingMadeToLookFullStopsItsWorkerAndTheTaskGoesToAnother) {
  test::NoLeaks no_leaks;
  ProcessPool pool(1);
  EXPECT_EQ(pool.submit(fill_task_ring).get(), 1) << "the task ring is mapped under its name";
  const std::vector<int> before = pool.worker_pids();
  EXPECT_EQ(pool.submit(square, 7).get(), 49) << "a replacement worker runs the task";
  EXPECT_NE(pool.worker_pids(), before);
}

TEST(ProcessFaults, SegfaultFailsOnlyItsTaskWithTheSignalAndStderrTail) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2);
  std::vector<Future<int>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(pool.submit(segfault_on, i));
  int good = 0;
  for (int i = 0; i < 100; ++i) {
    if (i == 13) {
      try {
        (void)futures[i].get();
        ADD_FAILURE() << "the crashing task returned";
      } catch (const WorkerDied& e) {
        EXPECT_EQ(e.signal(), SIGSEGV);
        EXPECT_FALSE(e.exit_code().has_value());
        EXPECT_NE(e.stderr_tail().find("about to crash on input 13"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("SIGSEGV"), std::string::npos) << e.what();
      }
    } else {
      EXPECT_EQ(futures[i].get(), i);
      ++good;
    }
  }
  EXPECT_EQ(good, 99);
  EXPECT_EQ(pool.submit(square, 9).get(), 81) << "the pool goes on";
}

TEST(ProcessFaults, AbortAndExitAreReportedAsSuch) {
  test::NoLeaks no_leaks;
  ProcessPool pool(1);
  try {
    (void)pool.submit(abort_now).get();
    FAIL();
  } catch (const WorkerDied& e) {
    EXPECT_EQ(e.signal(), SIGABRT);
  }
  try {
    (void)pool.submit(exit_three).get();
    FAIL();
  } catch (const WorkerDied& e) {
    EXPECT_FALSE(e.signal().has_value());
    EXPECT_EQ(e.exit_code(), 3);
  }
  EXPECT_EQ(pool.submit(square, 3).get(), 9);
}

TEST(ProcessFaults, ExceptionsArriveAsRemoteErrorWithTypeMessageAndPid) {
  ProcessPool pool(1);
  const int pid = pool.submit(my_pid).get();
  try {
    (void)pool.submit(throw_std).get();
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::out_of_range");
    EXPECT_EQ(e.message(), "index 7 past the end");
    EXPECT_NE(e.where().find(std::to_string(pid)), std::string::npos) << e.where();
  }
  try {
    (void)pool.submit(throw_user).get();
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_NE(e.type_name().find("SolverDiverged"), std::string::npos) << e.type_name();
    EXPECT_EQ(e.message(), "residual grew to 1e12");
  }
  try {
    (void)pool.submit(throw_int).get();
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "int");
  }
  EXPECT_EQ(pool.submit(my_pid).get(), pid) << "an exception does not cost the worker";
}

TEST(ProcessFaults, WorkerKilledFromOutsideFailsOneTaskOfAThousand) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(2);
  std::vector<Future<int>> futures;
  for (int i = 0; i < 1000; ++i) futures.push_back(pool.submit(square, i));
  auto victim = pool.submit(report_pid_and_block, dir.file("pid"), dir.file("release"));
  for (int i = 1000; i < 1200; ++i) futures.push_back(pool.submit(square, i));
  test::wait_for_file(dir.file("pid"), 1);
  int killed = 0;
  std::ifstream(dir.file("pid")) >> killed;
  ASSERT_GT(killed, 0);
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  try {
    (void)victim.get();
    FAIL() << "the task of the killed worker returned";
  } catch (const WorkerDied& e) {
    EXPECT_EQ(e.pid(), killed);
    EXPECT_EQ(e.signal(), SIGKILL);
  }
  for (int i = 0; i < 1200; ++i) EXPECT_EQ(futures[i].get(), i * i);
  EXPECT_EQ(pool.submit(square, 5).get(), 25);
}

// The fork server (zygote) is the parent of every worker; its death takes them with it
// (PR_SET_PDEATHSIG), and the pool, which can start no replacement, breaks.
TEST(ProcessFaults, AKilledForkServerBreaksThePoolAndLeavesNoProcess) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(2);
  auto victim = pool.submit(report_pid_and_block, dir.file("pid"), dir.file("release"));
  test::wait_for_file(dir.file("pid"), 1);
  int worker = 0;
  std::ifstream(dir.file("pid")) >> worker;
  ASSERT_GT(worker, 0);
  std::string stat;
  std::getline(std::ifstream("/proc/" + std::to_string(worker) + "/stat"), stat);
  char state = 0;
  int zygote = 0;
  ASSERT_EQ(std::sscanf(stat.c_str() + stat.rfind(')') + 1, " %c %d", &state, &zygote), 2) << stat;
  ASSERT_NE(zygote, ::getpid()) << "forkserver workers are the zygote's children";
  ASSERT_EQ(::kill(zygote, SIGKILL), 0);
  EXPECT_THROW((void)victim.get(), Error) << "its worker died with the zygote";
  try {
    // Refused at once, or failed when the manager reads the zygote's end-of-file.
    (void)pool.submit(square, 3).get();
    FAIL() << "a task ran with no fork server";
  } catch (const BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("fork server"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)pool.submit(square, 4), BrokenExecutor);
}

TEST(ProcessFaults, TimeoutStopsTheWorkerAndAReplacementTakesOver) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(1, {.kill_grace = 200ms});
  const int before = pool.submit(my_pid).get();
  const auto start = std::chrono::steady_clock::now();
  auto slow = pool.submit_with({.timeout = 100ms}, hang_forever, dir.file("started"));
  try {
    (void)slow.get();
    FAIL();
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("100 ms"), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms) << "never early";
  const int after = pool.submit(my_pid).get();
  EXPECT_NE(after, before);
}

TEST(ProcessFaults, AWorkerIgnoringSigtermIsKilledAfterTheGrace) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(1, {.kill_grace = 100ms});
  auto stubborn = pool.submit_with({.timeout = 50ms}, ignore_sigterm_and_hang, dir.file("started"));
  EXPECT_THROW((void)stubborn.get(), TimeoutError);
  EXPECT_EQ(pool.submit(square, 6).get(), 36);
}

TEST(ProcessFaults, CancelOfARunningTaskStopsItsWorker) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(1, {.kill_grace = 200ms});
  auto running = pool.submit(hang_forever, dir.file("started"));
  auto queued = pool.submit(square, 4);
  test::wait_for_file(dir.file("started"), 1);
  EXPECT_FALSE(running.cancel()) << "a running task is not cancelled, it is stopped";
  EXPECT_THROW((void)running.get(), CancelledError);
  EXPECT_EQ(queued.get(), 16) << "the task behind it runs on the replacement";
}

TEST(ProcessFaults, MaxTasksPerChildOneGivesEveryTaskAFreshProcess) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2, {.max_tasks_per_child = 1});
  std::vector<Future<int>> futures;
  for (int i = 0; i < 200; ++i) futures.push_back(pool.submit(my_pid));
  std::set<int> pids;
  for (auto& f : futures) pids.insert(f.get());
  EXPECT_EQ(pids.size(), 200u);
}

TEST(ProcessFaults, MaxMemoryPerChildRecyclesAGrownWorker) {
  test::NoLeaks no_leaks;
  ProcessPool pool(1, {.max_memory_per_child = std::size_t{64} << 20});
  const int first = pool.submit(my_pid).get();
  EXPECT_EQ(pool.submit(my_pid).get(), first) << "a small worker is kept";
  EXPECT_EQ(pool.submit(allocate_and_touch, std::size_t{128} << 20).get(), std::size_t{128} << 20);
  EXPECT_NE(pool.submit(my_pid).get(), first) << "the grown worker was replaced";
}

TEST(ProcessFaults, RetriesResubmitATaskLostWithItsWorker) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  {
    ProcessPool pool(1, {.retries = 1});
    EXPECT_EQ(pool.submit(crash_once, dir.file("a")).get(), 7);
  }
  ProcessPool pool(1);
  EXPECT_THROW((void)pool.submit(crash_once, dir.file("b")).get(), WorkerDied) << "off by default";
}

TEST(ProcessFaults, ShutdownWithCancelFuturesCancelsQueuedAndFinishesRunning) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(1);
  auto running = pool.submit(block_until, dir.file("started"), dir.file("release"));
  test::wait_for_file(dir.file("started"), 1);
  std::vector<Future<int>> queued;
  for (int i = 0; i < 20; ++i) queued.push_back(pool.submit(square, i));
  pool.shutdown({.wait = false, .cancel_futures = true});
  std::size_t cancelled = 0;
  for (auto& f : queued) cancelled += f.cancelled() ? 1 : 0;
  EXPECT_GE(cancelled, 19u) << "all but the one sent ahead to the worker";
  test::touch(dir.file("release"));
  EXPECT_EQ(running.get(), 1);
  EXPECT_THROW(pool.submit(square, 1), BrokenExecutor);
  pool.shutdown();
}

TEST(ProcessFaults, ShutdownWaitsForPendingTasks) {
  test::NoLeaks no_leaks;
  std::vector<Future<int>> futures;
  {
    ProcessPool pool(2);
    for (int i = 0; i < 500; ++i) futures.push_back(pool.submit(square, i));
  }
  for (int i = 0; i < 500; ++i) EXPECT_EQ(futures[i].get(), i * i);
}

// The parent role: a copy of this test binary builds a pool, reports its workers' pids
// on stdout and waits to be killed.
TEST(ProcessFaults, ParentRole) {
  const char* role = std::getenv("CONCUR_TEST_PARENT_ROLE");
  if (role == nullptr) GTEST_SKIP() << "runs only as the child of WorkersDieWithTheirParent";
  ProcessPool pool(2, {.start_method = std::string(role) == "fork" ? StartMethod::fork
                                                                     : StartMethod::forkserver,
                       .allow_fork_with_threads = true});
  std::vector<Future<int>> pids{pool.submit(my_pid), pool.submit(my_pid)};
  for (auto& f : pids) f.wait();
  std::set<int> distinct;
  for (int pid : pool.worker_pids()) distinct.insert(pid);
  for (int pid : distinct) std::printf("%d\n", pid);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

bool process_gone(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string pid_field, name, state;
  stat >> pid_field >> name >> state;
  return state == "Z" || state == "X";  // a zombie no longer runs
}

void check_workers_die_with_parent(const char* role, int signal) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t parent = ::fork();
  if (parent == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::setenv("CONCUR_TEST_PARENT_ROLE", role, 1);
    ::execl("/proc/self/exe", "process_faults_test", "--gtest_filter=ProcessFaults.ParentRole",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  struct KillOnExit {  // an early return must not leave the parent (and our stdout) behind
    pid_t pid;
    ~KillOnExit() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } guard{parent};
  std::vector<int> workers;
  std::string text;
  char buffer[256];
  for (ssize_t n; text.find("ready\n") == std::string::npos &&
                  (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  for (std::size_t pos = 0, end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1) {
    const std::string line = text.substr(pos, end - pos);
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) workers.push_back(std::stoi(line));
  }
  ASSERT_EQ(workers.size(), 2u) << text;
  ASSERT_EQ(::kill(parent, signal), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(parent, &status, 0), parent);
  guard.pid = -1;  // reaped
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == signal);
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  for (int pid : workers) {
    while (!process_gone(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_TRUE(process_gone(pid)) << "worker " << pid << " outlived its parent by a second";
  }
}

TEST(ProcessFaults, WorkersDieWithTheirSigkilledParent) {
  check_workers_die_with_parent("forkserver", SIGKILL);
}

TEST(ProcessFaults, ForkedWorkersDieWithTheirSigkilledParent) {
  check_workers_die_with_parent("fork", SIGKILL);
}

TEST(ProcessFaults, SigintToTheParentLeavesNoWorker) {
  check_workers_die_with_parent("forkserver", SIGINT);
}

}  // namespace
}  // namespace concur
