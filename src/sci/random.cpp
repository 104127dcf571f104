#include <concur/sci/random.hpp>

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace concur {
inline namespace v0 {
namespace {

__extension__ typedef unsigned __int128 Uint128;  // g++ and clang on 64-bit targets

using Philox = r123::Philox4x64_R<10>;

inline std::array<std::uint64_t, 4> block(std::uint64_t index, const std::array<std::uint64_t, 2>& key) noexcept {
  const Philox::ctr_type counter = {{index, 0, 0, 0}};
  const Philox::key_type k = {{key[0], key[1]}};
  const Philox::ctr_type r = Philox()(counter, k);
  return {r[0], r[1], r[2], r[3]};
}

inline double to_unit(std::uint64_t word) noexcept { return static_cast<double>(word >> 11) * 0x1.0p-53; }

}  // namespace

namespace detail {
std::array<std::uint64_t, 4> philox4x64_10(std::array<std::uint64_t, 4> counter,
                                           std::array<std::uint64_t, 2> key) noexcept {
  const Philox::ctr_type c = {{counter[0], counter[1], counter[2], counter[3]}};
  const Philox::key_type k = {{key[0], key[1]}};
  const Philox::ctr_type r = Philox()(c, k);
  return {r[0], r[1], r[2], r[3]};
}
}  // namespace detail

void Random::refill() noexcept {
  buffer_ = block(block_++, key_);
  used_ = 0;
}

double Random::uniform(double low, double high) {
  if (!(low < high) || !std::isfinite(low) || !std::isfinite(high)) {
    throw std::invalid_argument("concur::Random::uniform: need finite low < high, got [" + std::to_string(low) +
                                ", " + std::to_string(high) + ")");
  }
  return low + (high - low) * uniform();
}

std::int64_t Random::integer(std::int64_t low, std::int64_t high) {
  if (low > high) {
    throw std::invalid_argument("concur::Random::integer: low " + std::to_string(low) + " > high " +
                                std::to_string(high));
  }
  const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  if (span == max()) return static_cast<std::int64_t>((*this)());
  // Lemire's multiply-and-reject: unbiased, one multiplication in the common case.
  const std::uint64_t range = span + 1;
  Uint128 product = static_cast<Uint128>((*this)()) * range;
  auto low_bits = static_cast<std::uint64_t>(product);
  if (low_bits < range) {
    const std::uint64_t threshold = -range % range;
    while (low_bits < threshold) {
      product = static_cast<Uint128>((*this)()) * range;
      low_bits = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + static_cast<std::uint64_t>(product >> 64));
}

double Random::standard_normal() noexcept {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const std::uint64_t u0 = (*this)();
  const std::uint64_t u1 = (*this)();
  const r123::double2 pair = r123::boxmuller(u0, u1);
  spare_normal_ = pair.y;
  has_spare_normal_ = true;
  return pair.x;
}

namespace {
void check_normal(double mean, double stddev) {
  if (!(stddev >= 0) || !std::isfinite(stddev) || !std::isfinite(mean)) {
    throw std::invalid_argument("concur::Random::normal: need a finite mean and a finite stddev >= 0, got mean " +
                                std::to_string(mean) + ", stddev " + std::to_string(stddev));
  }
}
}  // namespace

double Random::normal(double mean, double stddev) {
  check_normal(mean, stddev);
  return mean + stddev * standard_normal();
}

void Random::fill(std::span<std::uint64_t> out) noexcept {
  std::size_t i = 0;
  while (i < out.size() && used_ < buffer_.size()) out[i++] = buffer_[used_++];
  // Whole blocks straight into the output, then the tail through the buffer.
  for (; out.size() - i >= 4; i += 4) {
    const auto words = block(block_++, key_);
    std::memcpy(&out[i], words.data(), sizeof words);
  }
  while (i < out.size()) out[i++] = (*this)();
}

void Random::fill_uniform(std::span<double> out) noexcept {
  std::size_t i = 0;
  while (i < out.size() && used_ < buffer_.size()) out[i++] = to_unit(buffer_[used_++]);
  for (; out.size() - i >= 4; i += 4) {
    const auto words = block(block_++, key_);
    for (std::size_t j = 0; j < 4; ++j) out[i + j] = to_unit(words[j]);
  }
  while (i < out.size()) out[i++] = uniform();
}

void Random::fill_normal(std::span<double> out, double mean, double stddev) {
  check_normal(mean, stddev);
  for (double& x : out) x = mean + stddev * standard_normal();
}

}  // namespace v0
}  // namespace concur
