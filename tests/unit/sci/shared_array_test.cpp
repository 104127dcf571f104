// SharedArray: creation, views, ownership, errors, and handles that travel to workers of
// every start method. `concur clean`'s library side (stale segments) is tested here too.
#include <concur/sci/shared_array.hpp>

#include <concur/process/detail/wire.hpp>
#include <concur/process/process_pool.hpp>

#include "support/file_gate.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <numeric>
#include <string>

namespace concur {
namespace {

bool segment_exists(const std::string& name) {
  struct stat info{};
  return ::stat(("/dev/shm" + name).c_str(), &info) == 0;
}

TEST(SharedArray, IsZeroFilledWritableAndNamedAfterItsOwner) {
  test::NoLeaks no_leaks;
  SharedArray<double> a({3, 4});
  EXPECT_TRUE(a.owner());
  EXPECT_EQ(a.size(), 12u);
  EXPECT_EQ(a.size_bytes(), 96u);
  EXPECT_EQ(a.name().rfind("/concur-" + std::to_string(::getpid()) + "-", 0), 0u) << a.name();
  for (double x : a.span()) EXPECT_EQ(x, 0.0);
  a.view()(2, 3) = 7.5;
  EXPECT_EQ(a.const_view()(2, 3), 7.5);
  EXPECT_EQ(a.view().row(2)[3], 7.5);
  struct stat info{};
  ASSERT_EQ(::stat(("/dev/shm" + a.name()).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "only the owner may open it";
}

TEST(SharedArray, CopiesShareTheSegmentWhichTheLastCopyUnlinks) {
  test::NoLeaks no_leaks;
  std::string name;
  {
    SharedArray<int> a({8});
    name = a.name();
    SharedArray<int> b = a;
    {
      SharedArray<int> c = std::move(a);
      c.span()[0] = 42;
    }
    EXPECT_TRUE(segment_exists(name)) << "b still holds it";
    EXPECT_EQ(b.span()[0], 42);
    SharedArray<const int> r = b.read_only();
    EXPECT_EQ(r.data(), b.data()) << "read_only() shares the mapping";
    EXPECT_THROW((void)a.data(), InvalidState) << "a moved-from array is empty";
  }
  EXPECT_FALSE(segment_exists(name));
}

TEST(SharedArray, AttachByNameSeesTheSameMemory) {
  test::NoLeaks no_leaks;
  SharedArray<int> a({2, 2});
  auto b = SharedArray<int>::attach(a.name(), {2, 2});
  EXPECT_FALSE(b.owner());
  b.view()(1, 1) = 5;
  EXPECT_EQ(a.view()(1, 1), 5);
  auto r = SharedArray<const int>::attach(a.name(), {4});
  EXPECT_EQ(r.span()[3], 5);
  try {
    (void)SharedArray<int>::attach(a.name(), {2, 3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 16 bytes; the array needs 24"), std::string::npos) << e.what();
  }
  try {
    (void)SharedArray<int>::attach("/concur-no-such-segment", {1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST(SharedArray, RefusesEmptyOverflowingAndUnplaceableShapes) {
  test::NoLeaks no_leaks;
  EXPECT_THROW(SharedArray<double>({0}), std::invalid_argument);
  EXPECT_THROW(SharedArray<double>({4, 0}), std::invalid_argument);
  EXPECT_THROW(SharedArray<double>({std::size_t{1} << 62}), std::length_error);
  // 8 TiB: more than this machine's /dev/shm holds; refused at creation, nothing left.
  try {
    SharedArray<double> huge({std::size_t{1} << 40});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reserve 8796093022208 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("available"), std::string::npos) << e.what();
  }
}

TEST(SharedArray, AGivenNameIsExclusive) {
  test::NoLeaks no_leaks;
  const std::string name = "/concur-test-collision-" + std::to_string(::getpid());
  SharedArray<int> first({4}, name);
  EXPECT_EQ(first.name(), name);
  try {
    SharedArray<int> second({4}, name);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SharedArray<int>({4}, "no-leading-slash"), std::invalid_argument);
  EXPECT_THROW(SharedArray<int>({4}, "/a/b"), std::invalid_argument);
  SharedArray<int> fresh1({1}), fresh2({1});
  EXPECT_NE(fresh1.name(), fresh2.name());
}

TEST(SharedArray, TravelsAsAHandleWhateverItsSize) {
  test::NoLeaks no_leaks;
  SharedArray<double> big({std::size_t{1} << 24});  // 128 MiB
  std::string bytes;
  {
    detail::Encoder encoder(bytes);
    encoder.archive()(big);
  }
  EXPECT_LT(bytes.size(), 128u);
  SharedArray<double> back;
  {
    detail::Decoder decoder(bytes);
    decoder.archive()(back);
  }
  EXPECT_EQ(back.name(), big.name());
  EXPECT_EQ(back.shape(), big.shape());
  EXPECT_FALSE(back.owner());
}

TEST(SharedArray, AReadOnlyHandleIsNotReceivedAsWritable) {
  test::NoLeaks no_leaks;
  SharedArray<int> a({4});
  std::string bytes;
  {
    detail::Encoder encoder(bytes);
    encoder.archive()(a.read_only());
  }
  SharedArray<int> writable;
  detail::Decoder decoder(bytes);
  try {
    decoder.archive()(writable);
    FAIL();
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("receive it as SharedArray<const T>"), std::string::npos) << e.what();
  }
}

TEST(SharedArray, AnEmptyArrayCannotTravel) {
  std::string bytes;
  detail::Encoder encoder(bytes);
  EXPECT_THROW(encoder.archive()(SharedArray<int>()), InvalidState);
}

// ---- across processes ---------------------------------------------------------------------
void fill_half(SharedArray<double> a, std::size_t half) {
  const std::size_t n = a.size() / 2;
  for (std::size_t i = half * n; i < (half + 1) * n; ++i) a.span()[i] = static_cast<double>(i);
}
double sum(SharedArray<const double> a) { return std::accumulate(a.span().begin(), a.span().end(), 0.0); }
double sum_rows(SharedArray<const double> a, std::size_t first, std::size_t count) {
  double s = 0;
  for (double x : a.const_view().rows(first, count)) s += x;
  return s;
}
void write_through_read_only(SharedArray<const double> a) { const_cast<double*>(a.data())[0] = 1; }
void write(SharedArray<double> a) { a.span()[0] = 1; }

class SharedArrayAcross : public testing::TestWithParam<StartMethod> {};
INSTANTIATE_TEST_SUITE_P(StartMethods, SharedArrayAcross,
                         testing::Values(StartMethod::forkserver, StartMethod::fork, StartMethod::spawn),
                         [](const testing::TestParamInfo<StartMethod>& p) {
                           return std::string(p.param == StartMethod::forkserver ? "forkserver"
                                              : p.param == StartMethod::fork   ? "fork"
                                                                               : "spawn");
                         });

TEST_P(SharedArrayAcross, TwoWorkersWriteDisjointHalvesTheParentSeesBoth) {
  test::NoLeaks no_leaks;
  SharedArray<double> a({1000, 100});
  {
    ProcessPool pool(2, {.start_method = GetParam(), .allow_fork_with_threads = true});
    auto low = pool.submit(fill_half, a, 0);
    auto high = pool.submit(fill_half, a, 1);
    low.get();
    high.get();
    EXPECT_DOUBLE_EQ(pool.submit(sum, a.read_only()).get(), 99999.0 * 100000.0 / 2);
    EXPECT_DOUBLE_EQ(pool.submit(sum_rows, a.read_only(), 999, 1).get(), (99900.0 + 99999.0) * 50);
  }
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.span()[i], static_cast<double>(i));
}

TEST_P(SharedArrayAcross, AReadOnlyHandleIsMappedReadOnlyInTheWorker) {
  test::NoLeaks no_leaks;
  SharedArray<double> a({16});
  ProcessPool pool(1, {.start_method = GetParam(), .allow_fork_with_threads = true});
  EXPECT_THROW(pool.submit(write_through_read_only, a.read_only()).get(), WorkerDied)
      << "a write through a read-only mapping faults";
  EXPECT_EQ(a.span()[0], 0.0);
  static_assert(!std::is_invocable_v<decltype(&write), SharedArray<const double>>,
                "a read-only array does not convert to a writable one");
  pool.submit(write, a).get();
  EXPECT_EQ(a.span()[0], 1.0);
}

void wait_for_gate(std::string path) { test::wait_for_file(path); }

TEST(SharedArrayAcrossProcesses, ASegmentGoneBeforeTheTaskRunsIsAClearError) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  ProcessPool pool(1);
  auto gate = pool.submit(wait_for_gate, dir.file("open"));  // holds the only worker
  std::string name;
  Future<double> f = [&] {
    SharedArray<double> a({4});
    name = a.name();
    return pool.submit(sum, a.read_only());  // encoded now; unlinked at this scope's end
  }();
  EXPECT_FALSE(segment_exists(name));
  test::touch(dir.file("open"));
  gate.get();
  try {
    (void)f.get();
    FAIL() << "the worker attached a segment that no longer exists";
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool.submit(sum, SharedArray<double>({2}).read_only()).get(), 0.0) << "the worker goes on";
}

// ---- stale segments (concur clean) -------------------------------------------------------
TEST(StaleSegments, ASegmentOfAKilledOwnerIsFoundAndRemovedOneOfALiveOwnerIsKept) {
  test::NoLeaks no_leaks;
  SharedArray<int> mine({4});
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the owner: creates a segment, reports its name, waits to be killed
    ::close(pipe_fds[0]);
    SharedArray<int> doomed({1024});
    const std::string& name = doomed.name();
    (void)!::write(pipe_fds[1], name.data(), name.size());
    ::close(pipe_fds[1]);
    for (;;) ::pause();
  }
  ::close(pipe_fds[1]);
  char buffer[256];
  const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
  ::close(pipe_fds[0]);
  ASSERT_GT(n, 0);
  const std::string doomed(buffer, static_cast<std::size_t>(n));
  ::kill(child, SIGKILL);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  ASSERT_TRUE(segment_exists(doomed)) << "SIGKILL leaves the segment behind";

  bool listed_dead = false, listed_alive = false;
  for (const detail::SegmentInfo& info : detail::list_segments()) {
    if (info.name == doomed) listed_dead = !info.owner_alive && info.owner_pid == child && info.bytes == 4096;
    if (info.name == mine.name()) listed_alive = info.owner_alive;
  }
  EXPECT_TRUE(listed_dead);
  EXPECT_TRUE(listed_alive);
  bool removed = false;
  for (const detail::SegmentInfo& info : detail::remove_stale_segments()) {
    removed = removed || info.name == doomed;
    EXPECT_NE(info.name, mine.name());
  }
  EXPECT_TRUE(removed);
  EXPECT_FALSE(segment_exists(doomed));
  EXPECT_TRUE(segment_exists(mine.name()));
}

}  // namespace
}  // namespace concur
