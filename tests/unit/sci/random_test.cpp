// Random: Philox known answers, pinned outputs, bulk draws equal to single draws, ranges
// and distributions, independence of adjacent keys, and identical results on every
// executor and worker count.
#include <concur/sci/random.hpp>

#include <concur/process/process_pool.hpp>
#include <concur/sci/reduce.hpp>
#include <concur/thread/thread_pool.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <tuple>
#include <vector>

namespace concur {
namespace {

static_assert(std::uniform_random_bit_generator<Random>);

TEST(Random, PhiloxMatchesRandom123KnownAnswers) {
  using W = std::array<std::uint32_t, 4>;
  EXPECT_EQ(detail::philox4x32_10({0, 0, 0, 0}, {0, 0}), (W{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(detail::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (W{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(detail::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (W{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// Word 2b and 2b + 1 of stream (seed, key), from Random123 directly.
std::array<std::uint64_t, 2> reference_words(std::uint64_t seed, std::uint64_t key, std::uint64_t block) {
  const auto x = detail::philox4x32_10(
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), static_cast<std::uint32_t>(key),
       static_cast<std::uint32_t>(key >> 32)},
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
  return {x[0] | std::uint64_t{x[1]} << 32, x[2] | std::uint64_t{x[3]} << 32};
}

TEST(Random, StreamZeroZeroIsPhiloxOfCounterZero) {
  Random rng(0, 0);
  EXPECT_EQ(rng(), 0xe169c58d6627e8d5ULL);
  EXPECT_EQ(rng(), 0x9b00dbd8bc57ac4cULL);
  EXPECT_EQ(rng.position(), 2u);
  EXPECT_EQ(rng(), reference_words(0, 0, 1)[0]) << "block 1 follows block 0";
}

TEST(Random, BothKernelsGiveRandom123sBitsForEveryBlock) {
  const std::size_t blocks = 64 * 40;
  for (auto [seed, key, first] : {std::tuple{0ULL, 0ULL, 0ULL}, std::tuple{2026ULL, 7ULL, 64ULL},
                                  std::tuple{~0ULL, ~0ULL - 1, (1ULL << 32) - 128}}) {
    std::vector<std::uint64_t> fast(2 * blocks), portable(2 * blocks);
    detail::philox_stream(seed, key, first, blocks, fast.data());
    detail::philox_stream(seed, key, first, blocks, portable.data(), /*portable=*/true);
    for (std::size_t b = 0; b < blocks; ++b) {
      const auto expected = reference_words(seed, key, first + b);
      ASSERT_EQ(fast[2 * b], expected[0]) << "block " << first + b << " (crosses 2^32: " << (first > 0) << ")";
      ASSERT_EQ(fast[2 * b + 1], expected[1]);
      ASSERT_EQ(portable[2 * b], expected[0]);
      ASSERT_EQ(portable[2 * b + 1], expected[1]);
    }
  }
}

TEST(Random, PinnedValuesNeverChange) {
  // These bits are a promise: results published with concur stay reproducible.
  Random a(2026, 7);
  EXPECT_EQ(a(), reference_words(2026, 7, 0)[0]);
  Random b(2026, 7);
  const double u = b.uniform();
  EXPECT_EQ(u, static_cast<double>(reference_words(2026, 7, 0)[0] >> 11) * 0x1.0p-53);
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
  Random c(2026, 7);
  for (int i = 0; i < 200; ++i) (void)c();  // past the first refill of 128 words
  EXPECT_EQ(c(), reference_words(2026, 7, 100)[0]);
}

TEST(Random, BulkDrawsEqualSingleDrawsAtAnyOffset) {
  for (std::size_t skip : {0u, 1u, 3u, 127u, 128u, 130u}) {
    for (std::size_t n : {0u, 1u, 4u, 7u, 127u, 128u, 129u, 1000u}) {
      Random single(1, 2), bulk(1, 2);
      for (std::size_t i = 0; i < skip; ++i) {
        (void)single();
        (void)bulk();
      }
      std::vector<double> expected(n), got(n);
      for (double& x : expected) x = single.uniform();
      bulk.fill_uniform(got);
      ASSERT_EQ(got, expected) << "skip " << skip << " n " << n;
      EXPECT_EQ(single(), bulk()) << "both at the same position afterwards";

      Random words_single(3, 4), words_bulk(3, 4);
      for (std::size_t i = 0; i < skip; ++i) (void)words_single(), (void)words_bulk();
      std::vector<std::uint64_t> w1(n), w2(n);
      for (auto& w : w1) w = words_single();
      words_bulk.fill(w2);
      ASSERT_EQ(w1, w2);
    }
  }
  Random n1(5, 6), n2(5, 6);
  std::vector<double> normals(9), expected(9);
  for (double& x : expected) x = n1.normal(1.0, 2.0);
  n2.fill_normal(normals, 1.0, 2.0);
  EXPECT_EQ(normals, expected);
}

TEST(Random, FloatsTakeBothHalvesOfAWordAndBulkEqualsSingle) {
  Random words(8, 9), floats(8, 9);
  for (int i = 0; i < 300; ++i) {  // across refills
    const std::uint64_t word = words();
    ASSERT_EQ(floats.uniform_float(), static_cast<float>(static_cast<std::uint32_t>(word) >> 8) * 0x1.0p-24f);
    ASSERT_EQ(floats.uniform_float(), static_cast<float>(static_cast<std::uint32_t>(word >> 32) >> 8) * 0x1.0p-24f);
  }
  EXPECT_EQ(words.position(), floats.position());
  // A spare half waits for the next 32-bit draw; whole-word draws go on after it.
  Random mixed(8, 9), reference(8, 9);
  const float first = mixed.uniform_float();
  const std::uint64_t next = mixed();
  const std::uint64_t w0 = reference(), w1 = reference();
  EXPECT_EQ(first, static_cast<float>(static_cast<std::uint32_t>(w0) >> 8) * 0x1.0p-24f);
  EXPECT_EQ(next, w1);
  EXPECT_EQ(mixed.uniform_float(), static_cast<float>(static_cast<std::uint32_t>(w0 >> 32) >> 8) * 0x1.0p-24f);

  for (std::size_t skip : {0u, 1u, 3u, 127u, 128u, 255u, 256u, 257u}) {
    for (std::size_t n : {0u, 1u, 2u, 5u, 255u, 256u, 257u, 512u, 513u, 3000u}) {
      Random single(1, 2), bulk(1, 2);
      for (std::size_t i = 0; i < skip; ++i) {  // odd skips leave a spare half
        (void)single.uniform_float();
        (void)bulk.uniform_float();
      }
      std::vector<float> expected(n), got(n);
      for (float& x : expected) x = single.uniform_float();
      bulk.fill_uniform(std::span<float>(got));
      ASSERT_EQ(got, expected) << "skip " << skip << " n " << n;
      EXPECT_EQ(single.uniform_float(), bulk.uniform_float()) << "same position afterwards";
      EXPECT_EQ(single(), bulk());
    }
  }
  std::vector<float> many(1 << 16);
  Random(3, 3).fill_uniform(std::span<float>(many));
  double sum = 0;
  for (float x : many) {
    ASSERT_GE(x, 0.0f);
    ASSERT_LT(x, 1.0f);
    sum += x;
  }
  EXPECT_NEAR(sum / static_cast<double>(many.size()), 0.5, 0.01);
}

// On this machine the bulk fills use the AVX-512 kernel; the portable one (words, then
// converted) must give the same values.
TEST(Random, ThePortableKernelGivesTheSameWordsDoublesAndFloats) {
  const auto draw = [] {
    Random rng(11, 12);
    std::vector<std::uint64_t> words(1000);
    std::vector<double> doubles(1000);
    std::vector<float> floats(1001);
    rng.fill(words);
    rng.fill_uniform(doubles);
    rng.fill_uniform(std::span<float>(floats));
    return std::tuple(words, doubles, floats, rng());
  };
  const auto fast = draw();
  detail::use_portable_random_kernel(true);
  const auto portable = draw();
  detail::use_portable_random_kernel(false);
  EXPECT_EQ(std::get<0>(fast), std::get<0>(portable));
  EXPECT_EQ(std::get<1>(fast), std::get<1>(portable));
  EXPECT_EQ(std::get<2>(fast), std::get<2>(portable));
  EXPECT_EQ(std::get<3>(fast), std::get<3>(portable));
}

TEST(Random, IntegersCoverTheClosedRangeWithoutBias) {
  Random rng(11, 0);
  std::vector<int> counts(7);
  const int draws = 700'000;
  for (int i = 0; i < draws; ++i) {
    const std::int64_t v = rng.integer(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    ++counts[static_cast<std::size_t>(v + 3)];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - draws / 7.0) * (c - draws / 7.0) / (draws / 7.0);
  EXPECT_LT(chi2, 22.46) << "chi-square, 6 degrees of freedom, p = 0.001";
  EXPECT_EQ(rng.integer(5, 5), 5);
  const auto lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  (void)rng.integer(lo, hi);  // the full range is valid
  EXPECT_THROW((void)rng.integer(2, 1), std::invalid_argument);
}

TEST(Random, UniformAndNormalHaveTheirMoments) {
  Random rng(12, 0);
  const int n = 200'000;
  double sum = 0, sum2 = 0, usum = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal(3.0, 2.0);
    sum += x;
    sum2 += x * x;
    const double u = rng.uniform(-1.0, 1.0);
    ASSERT_GE(u, -1.0);
    ASSERT_LT(u, 1.0);
    usum += u;
  }
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 3.0, 0.03);  // 6.7 standard errors
  EXPECT_NEAR(sd, 2.0, 0.03);
  EXPECT_NEAR(usum / n, 0.0, 0.01);
  EXPECT_THROW((void)rng.uniform(1.0, 1.0), std::invalid_argument);
  EXPECT_THROW((void)rng.uniform(0.0, INFINITY), std::invalid_argument);
  EXPECT_THROW((void)rng.normal(0.0, -1.0), std::invalid_argument);
  EXPECT_THROW((void)rng.normal(NAN, 1.0), std::invalid_argument);
  std::vector<double> out(3);
  EXPECT_THROW(rng.fill_normal(out, 0.0, -2.0), std::invalid_argument);
}

// Pearson correlation of the first n uniforms of two streams.
double correlation(Random a, Random b, int n) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (int i = 0; i < n; ++i) {
    const double x = a.uniform(), y = b.uniform();
    sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
  }
  const double cov = sab / n - (sa / n) * (sb / n);
  return cov / std::sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
}

TEST(Random, AdjacentKeysAndSeedsAreUncorrelated) {
  const int n = 100'000;  // standard error of r: 1/sqrt(n) = 0.0032
  for (std::uint64_t k : {0ULL, 1ULL, 1000ULL, ~0ULL - 1}) {
    EXPECT_LT(std::abs(correlation(Random(42, k), Random(42, k + 1), n)), 0.016) << "key " << k;
    EXPECT_LT(std::abs(correlation(Random(k, 42), Random(k + 1, 42), n)), 0.016) << "seed " << k;
  }
  // Bits: adjacent keys agree on about half of them.
  Random a(9, 100), b(9, 101);
  std::uint64_t same = 0;
  for (int i = 0; i < 10'000; ++i) same += static_cast<std::uint64_t>(64 - __builtin_popcountll(a() ^ b()));
  EXPECT_NEAR(static_cast<double>(same) / 640'000.0, 0.5, 0.005);
  EXPECT_NE(Random(1, 2)(), Random(2, 1)()) << "seed and key are not interchangeable";
}

// Monte Carlo pi by task: the reproducibility promise across executors.
double hits(std::uint64_t task) {
  Random rng(2026, task);
  double inside = 0;
  for (int i = 0; i < 2000; ++i) {
    const double x = rng.uniform(), y = rng.uniform();
    inside += x * x + y * y < 1.0 ? 1.0 : 0.0;
  }
  return inside / 2000.0 + rng.normal() * 1e-9;  // a non-integer sum: order would show
}

TEST(Random, SameBitsOnEveryExecutorAndWorkerCount) {
  std::vector<std::uint64_t> tasks(200);
  std::iota(tasks.begin(), tasks.end(), 0);
  double sequential = 0;
  for (std::uint64_t t : tasks) sequential += hits(t);
  auto same_bits = [&](double x) { return std::memcmp(&x, &sequential, sizeof x) == 0; };
  for (std::size_t workers : {1u, 2u, 4u}) {
    ThreadPool threads(workers);
    EXPECT_TRUE(same_bits(reduce(threads, hits, tasks, 0.0, std::plus<>{}))) << workers << " threads";
    EXPECT_TRUE(same_bits(reduce(threads, hits, tasks, 0.0, std::plus<>{}, {.chunksize = 7})));
    ProcessPool processes(workers);
    EXPECT_TRUE(same_bits(reduce(processes, hits, tasks, 0.0, std::plus<>{}, {.chunksize = 13})))
        << workers << " processes";
  }
  EXPECT_NEAR(sequential / 200 * 4, 3.14159, 0.05);
}

}  // namespace
}  // namespace concur
