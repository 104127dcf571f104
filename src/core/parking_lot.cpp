#include "parking_lot.hpp"

#include <array>
#include <cstdint>

namespace concur {
inline namespace v0 {
namespace detail {

ParkingBucket& parking_bucket(const void* address) noexcept {
  static std::array<ParkingBucket, 256> buckets;
  auto bits = reinterpret_cast<std::uintptr_t>(address);
  bits ^= bits >> 17;  // states are heap blocks: mix the low, aligned bits away
  bits *= 0x9E3779B97F4A7C15ull;
  return buckets[(bits >> 56) & 0xFF];
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
