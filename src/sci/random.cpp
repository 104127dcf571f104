#include <concur/sci/random.hpp>

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <atomic>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

// target_clones dispatches through an ifunc resolver, which runs before a sanitizer's
// runtime is initialised and crashes it: sanitized builds use the plain loop.
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define CONCUR_TARGET_CLONES 1
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#undef CONCUR_TARGET_CLONES
#endif
#endif
#endif

namespace concur {
inline namespace v0 {
namespace {

__extension__ typedef unsigned __int128 Uint128;  // g++ and clang on 64-bit targets

constexpr std::uint32_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57;  // Philox4x32 multipliers
constexpr std::uint32_t kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;  // its key schedule
constexpr std::size_t kLanes = Random::kBlocks;

inline std::uint32_t lo(std::uint64_t x) noexcept { return static_cast<std::uint32_t>(x); }
inline std::uint32_t hi(std::uint64_t x) noexcept { return static_cast<std::uint32_t>(x >> 32); }

// kLanes consecutive blocks as structure-of-arrays, so that the compiler turns each
// round into vector multiplications over all lanes. Same bits as Random123's
// philox4x32_R<10> (checked by the tests). The portable path.
#if defined(CONCUR_TARGET_CLONES)
__attribute__((target_clones("avx2", "default")))
#endif
void philox_lanes_portable(std::uint64_t seed, std::uint64_t key, std::uint64_t first_block,
                           std::uint64_t* out) noexcept {
  std::uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (std::size_t j = 0; j < kLanes; ++j) {
    const std::uint64_t block = first_block + j;
    c0[j] = lo(block);
    c1[j] = hi(block);
    c2[j] = lo(key);
    c3[j] = hi(key);
  }
  std::uint32_t k0 = lo(seed), k1 = hi(seed);
  for (int round = 0; round < 10; ++round) {
    for (std::size_t j = 0; j < kLanes; ++j) {
      const std::uint64_t p0 = std::uint64_t{kM0} * c0[j];
      const std::uint64_t p1 = std::uint64_t{kM1} * c2[j];
      const std::uint32_t n0 = hi(p1) ^ c1[j] ^ k0;
      const std::uint32_t n2 = hi(p0) ^ c3[j] ^ k1;
      c1[j] = lo(p1);
      c3[j] = lo(p0);
      c0[j] = n0;
      c2[j] = n2;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (std::size_t j = 0; j < kLanes; ++j) {
    out[2 * j] = c0[j] | std::uint64_t{c1[j]} << 32;
    out[2 * j + 1] = c2[j] | std::uint64_t{c3[j]} << 32;
  }
}

// What a kernel writes: the words; the same words as doubles in [0, 1) like to_unit; or
// each word as two floats in [0, 1) like Random::unit_float (low half first).
enum class Output { words, doubles, floats };

inline double to_unit(std::uint64_t word) noexcept { return static_cast<double>(word >> 11) * 0x1.0p-53; }

#if defined(__x86_64__)
// g++ 12 reports its own _mm512_undefined_epi32() as uninitialised (-Wuninitialized).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
// The same with AVX-512 written out: each 32-bit value sits in a 64-bit lane, so one
// vpmuludq multiplies 8 blocks' words (compilers emit a full 64-bit multiplication for
// the loop above). Four vectors (32 blocks) go through the ten rounds at a time: their
// 16 state registers and the constants fit the 32 zmm registers, where all 64 blocks at
// once spilled to the stack. The upper halves of the lanes are left as garbage inside
// the rounds (vpmuludq reads only the lower ones) and masked once at the end; of the
// two high product words, one moves down by a dword shuffle (port 5) and the other by a
// shift (port 0), so that neither port takes both. About 4x the portable path here.
// Writes the words, or the same words as doubles or floats (see Output).
template <Output Kind>
__attribute__((target("avx512f,avx512dq"))) void philox_lanes_avx512(std::uint64_t seed, std::uint64_t key,
                                                                    std::uint64_t first_block, void* out) noexcept {
  constexpr std::size_t kVectors = 4;  // per group of 32 blocks
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i m0 = _mm512_set1_epi64(kM0), m1 = _mm512_set1_epi64(kM1);
  const __m512i mask = _mm512_set1_epi64(0xffffffff);
  const __m512i first_half = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
  const __m512i second_half = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  for (std::size_t group = 0; group < kLanes / (8 * kVectors); ++group) {
    __m512i c0[kVectors], c1[kVectors], c2[kVectors], c3[kVectors];
    for (std::size_t v = 0; v < kVectors; ++v) {
      const std::uint64_t base = first_block + 8 * (kVectors * group + v);
      const __m512i block = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(base)), lane);
      c0[v] = block;  // upper half: don't care
      c1[v] = _mm512_srli_epi64(block, 32);
      c2[v] = _mm512_set1_epi64(lo(key));
      c3[v] = _mm512_set1_epi64(hi(key));
    }
    std::uint32_t k0 = lo(seed), k1 = hi(seed);
    for (int round = 0; round < 10; ++round) {
      const __m512i key0 = _mm512_set1_epi64(k0), key1 = _mm512_set1_epi64(k1);
      for (std::size_t v = 0; v < kVectors; ++v) {
        const __m512i p0 = _mm512_mul_epu32(m0, c0[v]);
        const __m512i p1 = _mm512_mul_epu32(m1, c2[v]);
        // Each lane's high product word into its lower half.
        const __m512i high1 = _mm512_shuffle_epi32(p1, _MM_PERM_CDAB);
        const __m512i high0 = _mm512_srli_epi64(p0, 32);
        c0[v] = _mm512_ternarylogic_epi64(high1, c1[v], key0, 0x96);  // a ^ b ^ c
        c2[v] = _mm512_ternarylogic_epi64(high0, c3[v], key1, 0x96);
        c1[v] = p1;  // lower half: lo(p1)
        c3[v] = p0;
      }
      k0 += kW0;
      k1 += kW1;
    }
    // Words 2j and 2j + 1 are lanes j of (c0 | c1 << 32) and (c2 | c3 << 32); 0xEA is
    // (mask & a) | b.
    for (std::size_t v = 0; v < kVectors; ++v) {
      const __m512i even = _mm512_ternarylogic_epi64(mask, c0[v], _mm512_slli_epi64(c1[v], 32), 0xEA);
      const __m512i odd = _mm512_ternarylogic_epi64(mask, c2[v], _mm512_slli_epi64(c3[v], 32), 0xEA);
      const __m512i words[2] = {_mm512_permutex2var_epi64(even, first_half, odd),
                                _mm512_permutex2var_epi64(even, second_half, odd)};
      const std::size_t at = 16 * (kVectors * group + v);
      for (std::size_t half = 0; half < 2; ++half) {
        if constexpr (Kind == Output::doubles) {
          // (word >> 11) < 2^53 converts exactly; the scaling is exact too: to_unit's bits.
          const __m512d unit = _mm512_mul_pd(_mm512_cvtepi64_pd(_mm512_srli_epi64(words[half], 11)),
                                             _mm512_set1_pd(0x1.0p-53));
          _mm512_storeu_pd(static_cast<double*>(out) + at + 8 * half, unit);
        } else if constexpr (Kind == Output::floats) {
          // In memory a word's halves are low then high: 16 dwords are 16 floats in order.
          const __m512 unit = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(words[half], 8)),
                                            _mm512_set1_ps(0x1.0p-24f));
          _mm512_storeu_ps(static_cast<float*>(out) + 2 * (at + 8 * half), unit);
        } else {
          _mm512_storeu_si512(static_cast<std::uint64_t*>(out) + at + 8 * half, words[half]);
        }
      }
    }
  }
}
#pragma GCC diagnostic pop

bool cpu_has_avx512() noexcept {
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return avx512;
}
#endif

std::atomic<bool> force_portable{false};  // detail::use_portable_random_kernel

bool has_avx512() noexcept {
#if defined(__x86_64__)
  return cpu_has_avx512() && !force_portable.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

// kLanes blocks of stream (seed, key) from first_block (two words each), written as Kind.
template <Output Kind = Output::words>
void philox_lanes(std::uint64_t seed, std::uint64_t key, std::uint64_t first_block, void* out) noexcept {
#if defined(__x86_64__)
  if (has_avx512()) {
    philox_lanes_avx512<Kind>(seed, key, first_block, out);
    return;
  }
#endif
  if constexpr (Kind == Output::words) {
    philox_lanes_portable(seed, key, first_block, static_cast<std::uint64_t*>(out));
  } else {
    std::uint64_t words[2 * kLanes];
    philox_lanes_portable(seed, key, first_block, words);
    for (std::size_t j = 0; j < 2 * kLanes; ++j) {
      if constexpr (Kind == Output::doubles) {
        static_cast<double*>(out)[j] = to_unit(words[j]);
      } else {
        static_cast<float*>(out)[2 * j] = Random::unit_float(lo(words[j]));
        static_cast<float*>(out)[2 * j + 1] = Random::unit_float(hi(words[j]));
      }
    }
  }
}

void check_normal(double mean, double stddev) {
  if (!(stddev >= 0) || !std::isfinite(stddev) || !std::isfinite(mean)) {
    throw std::invalid_argument("concur::Random::normal: need a finite mean and a finite stddev >= 0, got mean " +
                                std::to_string(mean) + ", stddev " + std::to_string(stddev));
  }
}

}  // namespace

namespace detail {
std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                           std::array<std::uint32_t, 2> key) noexcept {
  using Philox = r123::Philox4x32_R<10>;
  const Philox::ctr_type c = {{counter[0], counter[1], counter[2], counter[3]}};
  const Philox::key_type k = {{key[0], key[1]}};
  const Philox::ctr_type r = Philox()(c, k);
  return {r[0], r[1], r[2], r[3]};
}

void use_portable_random_kernel(bool portable) noexcept { force_portable.store(portable); }

void philox_stream(std::uint64_t seed, std::uint64_t key, std::uint64_t first_block, std::size_t blocks,
                   std::uint64_t* out, bool portable) noexcept {
  for (std::size_t b = 0; b + kLanes <= blocks; b += kLanes) {
    if (portable) {
      philox_lanes_portable(seed, key, first_block + b, out + 2 * b);
    } else {
      philox_lanes(seed, key, first_block + b, out + 2 * b);
    }
  }
}
}  // namespace detail

void Random::refill() noexcept {
  philox_lanes(seed_, key_, block_, buffer_.data());
  block_ += kBlocks;
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

double Random::normal(double mean, double stddev) {
  check_normal(mean, stddev);
  return mean + stddev * standard_normal();
}

void Random::fill(std::span<std::uint64_t> out) noexcept {
  std::size_t i = 0;
  while (i < out.size() && used_ < buffer_.size()) out[i++] = buffer_[used_++];
  // Whole refills straight into the output, then the tail through the buffer.
  for (; out.size() - i >= 2 * kBlocks; i += 2 * kBlocks) {
    philox_lanes(seed_, key_, block_, &out[i]);
    block_ += kBlocks;
  }
  while (i < out.size()) out[i++] = (*this)();
}

void Random::fill_uniform(std::span<double> out) noexcept {
  std::size_t i = 0;
  while (i < out.size() && used_ < buffer_.size()) out[i++] = to_unit(buffer_[used_++]);
  for (; out.size() - i >= 2 * kBlocks; i += 2 * kBlocks) {
    philox_lanes<Output::doubles>(seed_, key_, block_, &out[i]);
    block_ += kBlocks;
  }
  while (i < out.size()) out[i++] = uniform();
}

void Random::fill_uniform(std::span<float> out) noexcept {
  std::size_t i = 0;
  if (i < out.size() && has_spare_half_) out[i++] = uniform_float();
  while (out.size() - i >= 2 && used_ < buffer_.size()) {
    const std::uint64_t word = buffer_[used_++];
    out[i++] = unit_float(lo(word));
    out[i++] = unit_float(hi(word));
  }
  for (; out.size() - i >= 4 * kBlocks; i += 4 * kBlocks) {
    philox_lanes<Output::floats>(seed_, key_, block_, &out[i]);
    block_ += kBlocks;
  }
  while (i < out.size()) out[i++] = uniform_float();
}

void Random::fill_normal(std::span<double> out, double mean, double stddev) {
  check_normal(mean, stddev);
  for (double& x : out) x = mean + stddev * standard_normal();
}

}  // namespace v0
}  // namespace concur
