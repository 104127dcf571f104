// A fixed table of mutex + condition-variable buckets, hashed by address, shared by all
// shared states: a state needs no mutex of its own. A bucket guards the callback list
// of every state that hashes to it; its condition variable wakes their waiters
// (others wake spuriously and re-check).
#pragma once

#include <concur/core/detail/mutex.hpp>

#include <condition_variable>

namespace concur {
inline namespace v0 {
namespace detail {

struct alignas(64) ParkingBucket {
  Mutex mutex;
  std::condition_variable cv;
};

ParkingBucket& parking_bucket(const void* address) noexcept;

}  // namespace detail
}  // namespace v0
}  // namespace concur
