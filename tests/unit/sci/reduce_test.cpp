// reduce: input order, init for an empty input, exceptions from f and from op.
#include <concur/sci/reduce.hpp>

#include <concur/process/process_pool.hpp>
#include <concur/thread/thread_pool.hpp>

#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace concur {
namespace {

std::string digit(int i) { return std::to_string(i % 10); }
int fails_at_five(int i) {
  if (i == 5) throw std::domain_error("five");
  return i;
}
double tiny(int i) { return 1.0 / (1.0 + i) * (i % 2 == 0 ? 1e16 : 1.0); }

template <class Pool>
void check_order_and_errors(Pool& pool) {
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::string expected;
  for (int i : inputs) expected += digit(i);
  // String concatenation does not commute: any reordering shows.
  EXPECT_EQ(reduce(pool, digit, inputs, std::string(), std::plus<>{}), expected);
  EXPECT_EQ(reduce(pool, digit, inputs, std::string(), std::plus<>{}, {.chunksize = 9}), expected);
  EXPECT_EQ(reduce(pool, digit, std::vector<int>{}, std::string("init"), std::plus<>{}), "init");
  EXPECT_THROW((void)reduce(pool, fails_at_five, inputs, 0, std::plus<>{}), std::exception);
  EXPECT_THROW((void)reduce(pool, digit, inputs, std::string(),
                            [](std::string a, std::string b) -> std::string {
                              if (a.size() == 50) throw std::length_error("op");
                              return a + b;
                            }),
               std::length_error);
  double sequential = 0;
  for (int i = 0; i < 1000; ++i) sequential += tiny(i);
  std::vector<int> many(1000);
  std::iota(many.begin(), many.end(), 0);
  for (std::size_t chunk : {1u, 3u, 64u}) {
    EXPECT_EQ(reduce(pool, tiny, many, 0.0, std::plus<>{}, {.chunksize = chunk}), sequential)
        << "a floating-point sum in input order has the same bits";
  }
}

TEST(Reduce, ThreadPoolKeepsInputOrder) {
  test::NoLeaks no_leaks;
  ThreadPool pool(4);
  check_order_and_errors(pool);
}

TEST(Reduce, ProcessPoolKeepsInputOrder) {
  test::NoLeaks no_leaks;
  ProcessPool pool(2);
  check_order_and_errors(pool);
}

}  // namespace
}  // namespace concur
