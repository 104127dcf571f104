#include <concur/core/observer.hpp>

#include <concur/core/unhandled_exception.hpp>
#include <concur/thread/thread_pool.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

namespace concur {
namespace {

class CountingObserver : public Observer {
 public:
  void on_worker_start(std::size_t) override { ++worker_starts; }
  void on_worker_stop(std::size_t) override { ++worker_stops; }
  void on_submit(std::uint64_t task) override {
    ++submits;
    max_id = std::max<std::uint64_t>(max_id, task);
  }
  void on_start(std::uint64_t, std::size_t worker) override {
    ++starts;
    if (worker >= 2) ++bad_worker;
  }
  void on_finish(std::uint64_t, std::size_t, bool failed) override {
    ++finishes;
    if (failed) ++failures;
  }
  std::atomic<int> worker_starts{0}, worker_stops{0}, submits{0}, starts{0}, finishes{0},
      failures{0}, bad_worker{0};
  std::atomic<std::uint64_t> max_id{0};
};

TEST(Observer, ThreadPoolReportsEveryEvent) {
  auto observer = std::make_shared<CountingObserver>();
  {
    ThreadPool pool(2, {.observer = observer});
    std::vector<Future<int>> fs;
    for (int i = 0; i < 50; ++i) {
      fs.push_back(pool.submit([i] {
        if (i % 10 == 0) throw std::runtime_error("x");
        return i;
      }));
    }
    for (auto& f : fs) f.wait();
  }
  EXPECT_EQ(observer->worker_starts.load(), 2);
  EXPECT_EQ(observer->worker_stops.load(), 2);
  EXPECT_EQ(observer->submits.load(), 50);
  EXPECT_EQ(observer->max_id.load(), 50u);
  EXPECT_EQ(observer->starts.load(), 50);
  EXPECT_EQ(observer->finishes.load(), 50);
  EXPECT_EQ(observer->failures.load(), 5);
  EXPECT_EQ(observer->bad_worker.load(), 0);
}

TEST(Observer, ThrowingObserverDoesNotBreakThePool) {
  struct Throwing : Observer {
    void on_start(std::uint64_t, std::size_t) override { throw std::runtime_error("observer bug"); }
  };
  std::atomic<int> reported{0};
  auto previous = set_unhandled_exception_handler([&](std::exception_ptr, std::string_view) { ++reported; });
  {
    ThreadPool pool(1, {.observer = std::make_shared<Throwing>()});
    EXPECT_EQ(pool.submit([] { return 3; }).get(), 3);
  }
  set_unhandled_exception_handler(previous);
  EXPECT_EQ(reported.load(), 1);
}

}  // namespace
}  // namespace concur
