// How much parallelism this machine gives right now: the same spin work on one thread,
// then on two threads at once. On a shared machine a second core can vanish for
// minutes; a speedup means nothing without this figure next to it.
#pragma once

#include <concur/export.hpp>

#include <chrono>

namespace concur {
inline namespace v0 {

struct ParallelismProbe {
  double one_thread_seconds = 0;   // median, one thread doing the work
  double two_threads_seconds = 0;  // median, two threads each doing the same work
  // 2 * one / two: 2.0 means two full cores, 1.0 means one.
  double parallelism() const noexcept {
    return two_threads_seconds > 0 ? 2 * one_thread_seconds / two_threads_seconds : 0;
  }
};

// Runs `rounds` rounds of about `work` each and keeps the medians.
CONCUR_EXPORT ParallelismProbe probe_parallelism(
    std::chrono::milliseconds work = std::chrono::milliseconds(20), int rounds = 5);

}  // namespace v0
}  // namespace concur
