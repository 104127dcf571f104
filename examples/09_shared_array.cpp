// 09 — A big array shared with worker processes, not copied: SharedArray vs by value.
//
// Python's lesson: pickling a large numpy array to every worker costs more than the
// work; multiprocessing.shared_memory avoids the copy. Here a SharedArray is filled once
// and two worker processes sum its halves: each task receives a handle (name and shape,
// a few dozen bytes) and maps the same memory. Passing the same data as a std::vector
// copies every byte through the worker's channel, twice (there and back is only a sum).
//
// Usage: 09_shared_array [MiB, default 1024]
#include <concur/process/process_pool.hpp>
#include <concur/process/worker_entry.hpp>
#include <concur/sci/shared_array.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

namespace {

// Sums one half of a read-only shared array, in a worker: no element is copied.
double sum_half(concur::SharedArray<const double> data, std::size_t half) {
  const std::size_t n = data.size() / 2;
  const double* begin = data.data() + half * n;
  return std::accumulate(begin, begin + n, 0.0);
}

// The same sum over a copy of the half sent by value.
double sum_copy(std::vector<double> values) { return std::accumulate(values.begin(), values.end(), 0.0); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  concur::serve_if_worker(argc, argv);
  const long mib = argc > 1 ? std::atol(argv[1]) : 1024;
  if (mib < 1) {
    std::fprintf(stderr, "usage: %s [MiB >= 1]\n", argv[0]);
    return 2;
  }
  const std::size_t n = static_cast<std::size_t>(mib) * 1024 * 1024 / sizeof(double) / 2 * 2;

  auto start = std::chrono::steady_clock::now();
  concur::SharedArray<double> data({n});
  std::iota(data.span().begin(), data.span().end(), 0.0);
  std::printf("filled %ld MiB in shared memory (%s) in %.3f s\n", mib, data.name().c_str(), seconds_since(start));
  const double expected = (static_cast<double>(n) - 1) * static_cast<double>(n) / 2;

  concur::ProcessPool pool(2);
  pool.submit(sum_copy, std::vector<double>{}).get();  // workers started before timing

  bool ok = true;
  for (int round = 1; round <= 2; ++round) {  // round 2: the workers' mappings are warm
    start = std::chrono::steady_clock::now();
    auto low = pool.submit(sum_half, data.read_only(), 0);
    auto high = pool.submit(sum_half, data.read_only(), 1);
    const double shared = low.get() + high.get();
    ok = ok && shared == expected;
    std::printf("SharedArray, round %d   : sum %s in %.3f s (each task sent %s)\n", round,
                shared == expected ? "correct" : "WRONG", seconds_since(start), "a handle");
  }

  start = std::chrono::steady_clock::now();
  std::vector<double> first(data.span().begin(), data.span().begin() + static_cast<std::ptrdiff_t>(n / 2));
  std::vector<double> second(data.span().begin() + static_cast<std::ptrdiff_t>(n / 2), data.span().end());
  auto low = pool.submit(sum_copy, std::move(first));
  auto high = pool.submit(sum_copy, std::move(second));
  const double copied = low.get() + high.get();
  std::printf("by value (std::vector) : sum %s in %.3f s (each task sent %ld MiB)\n",
              copied == expected ? "correct" : "WRONG", seconds_since(start), mib / 2);
  return ok && copied == expected ? 0 : 1;
}
