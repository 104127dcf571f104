#include <concur/loop/detail/block_queue.hpp>

#include <sys/mman.h>

#include <cstdint>

namespace concur {
inline namespace v0 {
namespace detail {

void* map_huge_block() noexcept {
  constexpr std::size_t size = kHugeBlockBytes;
  // Twice the size, then the unaligned ends go back: what is left is aligned to its size,
  // which a huge page needs.
  void* raw = ::mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (base + size - 1) & ~(std::uintptr_t{size} - 1);
  if (aligned > base) ::munmap(raw, aligned - base);
  ::munmap(reinterpret_cast<void*>(aligned + size), base + size - aligned);  // never empty
  void* block = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  (void)::madvise(block, size, MADV_HUGEPAGE);  // advice: plain pages if refused
#endif
  return block;
}

void unmap_huge_block(void* block) noexcept { ::munmap(block, kHugeBlockBytes); }

}  // namespace detail
}  // namespace v0
}  // namespace concur
