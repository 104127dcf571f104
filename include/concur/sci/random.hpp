// Random: reproducible, independent random streams keyed by (seed, key), on the
// counter-based Philox4x32-10 generator (Random123).
//
//   double estimate_pi(std::uint64_t task) {            // any executor, any worker count
//     concur::Random rng(/*seed=*/2026, /*key=*/task);
//     ...rng.uniform()...
//   }
//
// Draw n of stream (seed, key) is a pure function of (seed, key, n): block b of the
// stream is Philox4x32-10 of the counter {lo(b), hi(b), lo(key), hi(key)} under the key
// {lo(seed), hi(seed)}; its four 32-bit outputs x0..x3 make the stream's 64-bit words
// 2b = x0 | x1 << 32 and 2b + 1 = x2 | x3 << 32. So a task that builds its stream from
// its own index draws the same bits on any thread, process or machine, with any worker
// count and in any order, and streams of different keys are statistically independent
// (distinct counters: the point of Philox). Blocks are made 64 at a time with the
// machine's widest vectors (AVX-512, AVX2 or plain code, chosen at run time; the bits do
// not depend on the choice).
// Every call consumes whole 64-bit words in order (32-bit draws use both halves of
// one); a bulk fill draws exactly what span.size() single calls would.
//
// Meets std::uniform_random_bit_generator, so <random> distributions accept it (their
// output is then only as reproducible as the standard library's implementation).
//
// Thread safety: a Random is a plain value; use one per task or thread.
#pragma once

#include <concur/export.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace concur {
inline namespace v0 {

class CONCUR_EXPORT Random {
 public:
  using result_type = std::uint64_t;

  Random(std::uint64_t seed, std::uint64_t key) noexcept : seed_(seed), key_(key) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  // The next 64 random bits.
  result_type operator()() noexcept {
    if (used_ == buffer_.size()) refill();
    return buffer_[used_++];
  }
  // Uniform on [0, 1), 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  // Uniform on [0, 1) as a float, 24 random bits from 32 (numpy's random(dtype=float32)).
  // 32-bit draws take a word's low half, then its high half on the next 32-bit draw;
  // other draws in between take whole words after it.
  float uniform_float() noexcept {
    if (has_spare_half_) {
      has_spare_half_ = false;
      return unit_float(spare_half_);
    }
    const result_type word = (*this)();
    spare_half_ = static_cast<std::uint32_t>(word >> 32);
    has_spare_half_ = true;
    return unit_float(static_cast<std::uint32_t>(word));
  }
  // The float that a 32-bit half of a word gives: its top 24 bits times 2^-24.
  static float unit_float(std::uint32_t half) noexcept { return static_cast<float>(half >> 8) * 0x1.0p-24f; }
  // Uniform on [low, high). std::invalid_argument unless low < high, both finite.
  double uniform(double low, double high);
  // Uniform on [low, high], every value equally likely (no modulo bias).
  // std::invalid_argument if low > high.
  std::int64_t integer(std::int64_t low, std::int64_t high);
  // Normal (Gaussian) with the given mean and standard deviation (>= 0, finite), by
  // Box-Muller on two words; the second value of each pair is kept for the next call.
  double normal(double mean = 0.0, double stddev = 1.0);

  // Bulk draws, faster than a loop of single calls and identical to one.
  void fill_uniform(std::span<double> out) noexcept;
  void fill_uniform(std::span<float> out) noexcept;  // as out.size() uniform_float() calls
  void fill(std::span<std::uint64_t> out) noexcept;
  void fill_normal(std::span<double> out, double mean = 0.0, double stddev = 1.0);

  // Words drawn so far (the position in the stream).
  std::uint64_t position() const noexcept { return block_ * 2 - (buffer_.size() - used_); }

  // Blocks made per refill (two words each).
  static constexpr std::size_t kBlocks = 64;

 private:
  void refill() noexcept;
  double standard_normal() noexcept;

  std::uint64_t seed_;
  std::uint64_t key_;
  std::uint64_t block_ = 0;  // the next block to generate
  std::array<std::uint64_t, 2 * kBlocks> buffer_{};
  std::size_t used_ = 2 * kBlocks;  // words of buffer_ already consumed
  double spare_normal_ = 0.0;
  std::uint32_t spare_half_ = 0;  // the high half of a word whose low half was drawn
  bool has_spare_normal_ = false;
  bool has_spare_half_ = false;
};

namespace detail {
// Philox4x32-10 of one counter under one key, by Random123 itself (for known answers).
CONCUR_EXPORT std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                                          std::array<std::uint32_t, 2> key) noexcept;
// Words 2 * first_block .. of stream (seed, key), `blocks` (a multiple of Random::kBlocks)
// blocks, by the kernel that Random uses on this machine, or by its portable one.
CONCUR_EXPORT void philox_stream(std::uint64_t seed, std::uint64_t key, std::uint64_t first_block,
                                 std::size_t blocks, std::uint64_t* out, bool portable = false) noexcept;
// For tests: every Random of the process uses the portable kernel from now on (true) or
// the machine's widest again (false). Not for use while another thread draws.
CONCUR_EXPORT void use_portable_random_kernel(bool portable) noexcept;
}  // namespace detail

}  // namespace v0
}  // namespace concur
