#include <concur/core/map.hpp>

#include <concur/thread/thread_pool.hpp>

#include "support/counter_range.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include "support/latch.hpp"
#include <list>
#include <ranges>
#include <stdexcept>
#include <variant>
#include <vector>

namespace concur {
namespace {

struct MapTest : testing::TestWithParam<std::size_t> {
  ThreadPool pool{2};
  MapOptions options() const { return MapOptions{.chunksize = GetParam(), .in_flight = 0}; }
};

TEST_P(MapTest, ResultsComeInInputOrder) {
  std::vector<int> inputs(1000);
  for (int i = 0; i < 1000; ++i) inputs[i] = i;
  std::vector<int> out;
  for (int y : pool.map([](int x) { return 2 * x; }, inputs, options())) out.push_back(y);
  ASSERT_EQ(out.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(out[i], 2 * i);
}

TEST_P(MapTest, WorksOnAnyInputRange) {
  const std::list<int> linked{3, 1, 2};
  std::vector<int> out;
  for (int y : pool.map([](int x) { return x + 1; }, linked, options())) out.push_back(y);
  EXPECT_EQ(out, (std::vector<int>{4, 2, 3}));
  out.clear();
  for (int y : pool.map([](int x) { return x; }, std::vector<int>{7, 8}, options())) {
    out.push_back(y);  // an rvalue input is owned by the range
  }
  EXPECT_EQ(out, (std::vector<int>{7, 8}));
}

TEST_P(MapTest, EndlessInputIsReadLazily) {
  std::atomic<int> calls{0};
  const MapOptions opts{.chunksize = GetParam(), .in_flight = 3};
  int seen = 0;
  for (int y : pool.map(
           [&](int x) {
             ++calls;
             return x;
           },
           test::Counter{}, opts)) {
    EXPECT_EQ(y, seen);
    if (++seen == 50) break;
  }
  // Consumed 50; at most in_flight chunks beyond the one being read were submitted.
  EXPECT_LE(calls.load(), 50 + 4 * static_cast<int>(GetParam()));
}

TEST_P(MapTest, ExceptionIsRaisedAtTheFailingElement) {
  std::vector<int> inputs(20);
  for (int i = 0; i < 20; ++i) inputs[i] = i;
  std::vector<int> out;
  try {
    for (int y : pool.map(
             [](int x) {
               if (x == 13) throw std::domain_error("13 is unlucky");
               return x;
             },
             inputs, options())) {
      out.push_back(y);
    }
    FAIL() << "expected the exception of element 13";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "13 is unlucky");
  }
  ASSERT_EQ(out.size(), 13u) << "every element before the failure arrives";
  for (int i = 0; i < 13; ++i) EXPECT_EQ(out[i], i);
}

TEST_P(MapTest, VoidFunctionsYieldMonostate) {
  std::atomic<int> sum{0};
  int n = 0;
  for (std::monostate unit : pool.map([&](int x) { sum += x; }, std::vector<int>{1, 2, 3}, options())) {
    (void)unit;
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(sum.load(), 6);
}

TEST_P(MapTest, EmptyInputYieldsNothing) {
  int n = 0;
  for (int y : pool.map([](int x) { return x; }, std::vector<int>{}, options())) {
    (void)y;
    ++n;
  }
  EXPECT_EQ(n, 0);
}

INSTANTIATE_TEST_SUITE_P(Chunksizes, MapTest, testing::Values(1, 3, 64));

TEST(Map, ZeroChunksizeIsRejected) {
  ThreadPool pool(1);
  EXPECT_THROW((void)pool.map([](int x) { return x; }, std::vector<int>{1},
                              MapOptions{.chunksize = 0}),
               std::invalid_argument);
}

TEST(Map, LeavingEarlyCancelsWhatHasNotStarted) {
  test::Latch release(1);
  ThreadPool pool(1);
  std::atomic<int> started{0};
  {
    auto results = pool.map(
        [&](int x) {
          ++started;
          release.wait();
          return x;
        },
        test::Counter{100}, MapOptions{.chunksize = 1, .in_flight = 10});
    release.count_down();
    auto it = results.begin();
    EXPECT_EQ(*it, 0);
  }  // the range is destroyed with up to 10 chunks outstanding
  pool.shutdown();
  EXPECT_LT(started.load(), 100);
  EXPECT_LE(started.load(), 12);
}

TEST(Map, ShutdownPoolFailsTheRefill) {
  ThreadPool pool(1);
  auto results = pool.map([](int x) { return x; }, test::Counter{10},
                          MapOptions{.chunksize = 1, .in_flight = 2});
  pool.shutdown();
  std::vector<int> out;
  EXPECT_THROW(
      {
        for (int y : results) out.push_back(y);
      },
      BrokenExecutor);
  EXPECT_EQ(out, (std::vector<int>{0, 1}));  // the chunks submitted before shutdown ran
}

}  // namespace
}  // namespace concur
