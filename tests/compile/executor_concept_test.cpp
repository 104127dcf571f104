// Every executor models the Executor concept (checked at compile time); the test body
// only keeps ctest honest about the binary having been built.
#include <concur/core/executor.hpp>

#include <concur/process/process_pool.hpp>
#include <concur/thread/thread_pool.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace concur {
namespace {

static_assert(Executor<ThreadPool>);
static_assert(Executor<ProcessPool>);
static_assert(!std::is_copy_constructible_v<ProcessPool>);

// What can run in a worker process: functions, captureless lambdas, serializable
// function objects; a capturing lambda cannot travel.
static_assert(detail::remote_callable<int (*)(int)>);
static_assert(detail::remote_callable<decltype([](int x) { return x; })>);
inline int captured = 0;
static_assert(!detail::remote_callable<decltype([&c = captured](int x) { return x + c; })>);
// What can travel: serializable or trivially copyable values, never pointers.
static_assert(detail::transportable<std::vector<std::string>>);
static_assert(detail::transportable<std::pair<int, double>>);
static_assert(!detail::transportable<int*>);
static_assert(!detail::transportable<std::unique_ptr<int>>);
static_assert(!Executor<int>);
static_assert(!std::is_copy_constructible_v<ThreadPool>);

// submit deduces the result type, including void and move-only results.
static_assert(std::is_same_v<decltype(std::declval<ThreadPool&>().submit([] {})), Future<void>>);
static_assert(std::is_same_v<decltype(std::declval<ThreadPool&>().submit(
                                 [] { return std::make_unique<int>(1); })),
                             Future<std::unique_ptr<int>>>);

// A callable that does not accept the arguments is rejected by the constraint.
template <class E>
concept CanSubmitStringToIntFunction =
    requires(E& e) { e.submit([](int) { return 0; }, std::string("x")); };
static_assert(!CanSubmitStringToIntFunction<ThreadPool>);

// Generic code written against the concept alone runs on every executor.
int sum_of_squares(Executor auto& executor) {
  int sum = 0;
  for (int y : executor.map(+[](int x) { return x * x; }, std::vector<int>{1, 2, 3})) sum += y;
  return sum + executor.submit(&detail::executor_probe_task).get();
}

TEST(ExecutorConcept, GenericCodeRunsOnThreadPool) {
  ThreadPool pool(2);
  EXPECT_EQ(sum_of_squares(pool), 15);
}

}  // namespace
}  // namespace concur
