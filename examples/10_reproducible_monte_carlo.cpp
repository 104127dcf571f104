// 10 — Reproducible Monte Carlo: the same bits with 1, 2 or 8 workers, on threads or on
// processes.
//
// Two things make a parallel result reproducible: every task draws from its own random
// stream, keyed by the task's index and not by the worker that happens to run it
// (concur::Random(seed, task)), and the partial results are combined in input order
// (concur::reduce), because floating-point addition is not associative.
//
// Usage: 10_reproducible_monte_carlo [tasks, default 1000] [draws per task, default 100000]
#include <concur/process/process_pool.hpp>
#include <concur/process/worker_entry.hpp>
#include <concur/sci/random.hpp>
#include <concur/sci/reduce.hpp>
#include <concur/thread/thread_pool.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

namespace {

constexpr std::uint64_t kSeed = 2026;

// The fraction of points of task `task` that fall inside the quarter circle.
double fraction_inside(std::uint64_t task, long draws) {
  concur::Random rng(kSeed, task);  // this task's own stream
  long inside = 0;
  for (long i = 0; i < draws; ++i) {
    const double x = rng.uniform(), y = rng.uniform();
    inside += x * x + y * y < 1.0;
  }
  return static_cast<double>(inside) / static_cast<double>(draws);
}

struct Task {  // a function object that travels to workers with its draw count
  long draws = 0;
  double operator()(std::uint64_t task) const { return fraction_inside(task, draws); }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(draws);
  }
};

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  concur::serve_if_worker(argc, argv);
  const long tasks = argc > 1 ? std::atol(argv[1]) : 1000;
  const long draws_per_task = argc > 2 ? std::atol(argv[2]) : 100'000;
  if (tasks < 1 || draws_per_task < 1) {
    std::fprintf(stderr, "usage: %s [tasks >= 1] [draws per task >= 1]\n", argv[0]);
    return 2;
  }
  std::vector<std::uint64_t> ids(static_cast<std::size_t>(tasks));
  std::iota(ids.begin(), ids.end(), 0);
  const Task task{draws_per_task};

  double sequential = 0;
  for (std::uint64_t id : ids) sequential += task(id);
  std::printf("%-22s pi ~ %.12f  bits %016llx\n", "sequential", 4 * sequential / static_cast<double>(tasks),
              static_cast<unsigned long long>(bits(sequential)));

  bool all_same = true;
  for (std::size_t workers : {1, 2, 8}) {
    concur::ThreadPool threads(workers);
    const double t = concur::reduce(threads, task, ids, 0.0, std::plus<>{}, {.chunksize = 10});
    concur::ProcessPool processes(workers);
    const double p = concur::reduce(processes, task, ids, 0.0, std::plus<>{}, {.chunksize = 10});
    for (auto [name, value] : {std::pair{"threads", t}, std::pair{"processes", p}}) {
      std::printf("%zu %-19s pi ~ %.12f  bits %016llx %s\n", workers, name, 4 * value / static_cast<double>(tasks),
                  static_cast<unsigned long long>(bits(value)), bits(value) == bits(sequential) ? "same" : "DIFFERENT");
      all_same = all_same && bits(value) == bits(sequential);
    }
  }
  std::printf("%s\n", all_same ? "identical bits on every executor and worker count"
                                 : "results differ: something depends on scheduling");
  return all_same ? 0 : 1;
}
