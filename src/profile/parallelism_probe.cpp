#include <concur/profile/parallelism_probe.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace concur {
inline namespace v0 {
namespace {

using Clock = std::chrono::steady_clock;

// Pure CPU work the compiler cannot fold away.
std::uint64_t spin(std::uint64_t iterations) {
  std::uint64_t x = 88172645463325252ull;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

double seconds_of(std::uint64_t iterations, int threads) {
  std::atomic<std::uint64_t> sink{0};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&] { sink += spin(iterations); });
  sink += spin(iterations);
  for (auto& t : pool) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

ParallelismProbe probe_parallelism(std::chrono::milliseconds work, int rounds) {
  // Calibrate the iterations to about `work` on one thread.
  std::uint64_t iterations = 1 << 16;
  const double target = std::chrono::duration<double>(work).count();
  for (double s = seconds_of(iterations, 1); s < target / 4; s = seconds_of(iterations, 1)) {
    iterations *= 4;
  }
  const double once = seconds_of(iterations, 1);
  if (once > 0) iterations = static_cast<std::uint64_t>(static_cast<double>(iterations) * target / once) + 1;

  std::vector<double> one, two;
  for (int r = 0; r < std::max(1, rounds); ++r) {
    one.push_back(seconds_of(iterations, 1));
    two.push_back(seconds_of(iterations, 2));
  }
  return ParallelismProbe{median(one), median(two)};
}

}  // namespace v0
}  // namespace concur
