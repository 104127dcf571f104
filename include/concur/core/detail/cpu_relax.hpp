// A hint to the CPU that the caller is spinning (x86 PAUSE, ARM YIELD).
#pragma once

namespace concur {
inline namespace v0 {
namespace detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
