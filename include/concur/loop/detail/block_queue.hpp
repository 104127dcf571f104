// BlockQueue<T, Run>: the loop's FIFOs of what is ready (resumable coroutines, and
// call_soon's callbacks), in blocks. Growing never copies or moves what is queued, and
// the memory a burst touches is the burst's own size (a doubling vector touches twice
// that). A turn takes what is queued and runs it; each block it empties goes at once
// (two small ones are kept for the next pushes, so a loop that queues a few entries a
// turn allocates nothing once warm), so a burst of a million spawns leaves no memory
// behind once it has run.
//
// In this machine's VMs the first touch of a 4 KiB page costs 2.5-5.6 us, which was
// most of what a burst of a million call_soon cost. So blocks are small (12 KiB) until
// a burst has queued 2 MiB, and then 2 MiB each, mapped on their own and marked for
// transparent huge pages: one fault for 2 MiB instead of 512 (24 MB first-touched in
// 3.8-6.6 ms instead of 13-15 here). Where huge pages are not available they are plain
// mappings; where mapping fails, small blocks go on.
//
// `Run{}(entry)` runs an entry and ends it (the queue then never destroys it).
// Thread safety: none (the loop's own queue).
#pragma once

#include <concur/export.hpp>
#include <concur/loop/detail/loop_callback.hpp>

#include <coroutine>
#include <cstddef>
#include <new>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

inline constexpr std::size_t kHugeBlockBytes = std::size_t{2} << 20;
// kHugeBlockBytes of memory aligned to its size, asked to be backed by a huge page;
// null when it cannot be mapped.
CONCUR_EXPORT void* map_huge_block() noexcept;
CONCUR_EXPORT void unmap_huge_block(void* block) noexcept;

template <class T, class Run>
class BlockQueue {
 public:
  BlockQueue() = default;
  BlockQueue(const BlockQueue&) = delete;
  BlockQueue& operator=(const BlockQueue&) = delete;
  ~BlockQueue() {
    drop_all(queued_);
    while (spare_ != nullptr) free_block(std::exchange(spare_, spare_->next));
  }

  template <class F>
  void emplace_back(F&& entry) {
    if (queued_.tail == nullptr || queued_.tail->end == queued_.tail->capacity) append_block();
    Block& tail = *queued_.tail;
    ::new (static_cast<void*>(tail.slot(tail.end))) T(std::forward<F>(entry));
    ++tail.end;
    ++size_;
  }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  // The memory its blocks take now, the batch being run and the spares included.
  std::size_t bytes_held() const noexcept { return bytes_held_; }

  // Runs what is queued now, in order; what those entries queue waits for the next
  // call. When one throws, the ones after it stay queued, first in line, and the
  // exception propagates.
  void run_batch() {
    Chain batch = std::exchange(queued_, Chain{});
    size_ = 0;
    while (batch.head != nullptr) {
      Block& block = *batch.head;
      while (block.begin < block.end) {
        try {
          Run{}(*block.slot(block.begin++));
        } catch (...) {
          put_back(batch);
          throw;
        }
      }
      batch.head = block.next;
      recycle(&block);
    }
  }

 private:
  struct Block {
    Block* next = nullptr;
    std::size_t begin = 0, end = 0;  // the live entries are [begin, end)
    std::size_t capacity = 0;
    bool huge = false;
    T* slot(std::size_t i) noexcept {
      return std::launder(reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(this) + kHeader + i * sizeof(T)));
    }
  };
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  static constexpr std::size_t kHeader = (sizeof(Block) + alignof(T) - 1) / alignof(T) * alignof(T);
  static constexpr std::size_t kSmallBytes = kHeader + 12 * 1024 / sizeof(T) * sizeof(T);
  // A burst that has queued this many small blocks (2 MiB) goes on in huge ones.
  static constexpr std::size_t kSmallPerBurst = kHugeBlockBytes / kSmallBytes;
  struct Chain {
    Block* head = nullptr;
    Block* tail = nullptr;
    std::size_t blocks = 0;
  };

  void append_block() {
    Block* block = nullptr;
    if (queued_.blocks >= kSmallPerBurst) {
      if (void* memory = map_huge_block()) {
        bytes_held_ += kHugeBlockBytes;
        block = ::new (memory) Block;
        block->capacity = (kHugeBlockBytes - kHeader) / sizeof(T);
        block->huge = true;
      }
    }
    if (block == nullptr && spare_ != nullptr) {
      block = std::exchange(spare_, spare_->next);
      --spares_;
      block->next = nullptr;
      block->begin = block->end = 0;
    }
    if (block == nullptr) {
      block = ::new (::operator new(kSmallBytes)) Block;
      bytes_held_ += kSmallBytes;
      block->capacity = (kSmallBytes - kHeader) / sizeof(T);
    }
    if (queued_.tail != nullptr) {
      queued_.tail->next = block;
    } else {
      queued_.head = block;
    }
    queued_.tail = block;
    ++queued_.blocks;
  }
  void recycle(Block* block) noexcept {
    if (!block->huge && spares_ < 2) {
      block->next = spare_;
      spare_ = block;
      ++spares_;
    } else {
      free_block(block);
    }
  }
  void free_block(Block* block) noexcept {
    const bool huge = block->huge;
    bytes_held_ -= huge ? kHugeBlockBytes : kSmallBytes;
    block->~Block();
    if (huge) {
      unmap_huge_block(block);
    } else {
      ::operator delete(static_cast<void*>(block));
    }
  }
  // The rest of an interrupted batch goes before what was queued meanwhile.
  void put_back(Chain& batch) noexcept {
    for (Block* b = batch.head; b != nullptr; b = b->next) {
      size_ += b->end - b->begin;
      ++queued_.blocks;
    }
    if (batch.head == nullptr) return;
    batch.tail->next = queued_.head;
    if (queued_.tail == nullptr) queued_.tail = batch.tail;
    queued_.head = batch.head;
  }
  void drop_all(Chain& chain) noexcept {
    while (chain.head != nullptr) {
      Block* block = std::exchange(chain.head, chain.head->next);
      for (std::size_t i = block->begin; i < block->end; ++i) block->slot(i)->~T();
      free_block(block);
    }
    chain.tail = nullptr;
  }

  Chain queued_;
  std::size_t size_ = 0;
  Block* spare_ = nullptr;
  std::size_t spares_ = 0;
  std::size_t bytes_held_ = 0;
};

struct RunCallback {
  void operator()(LoopCallback& callback) const { callback.run_and_end(); }
};
struct ResumeHandle {
  void operator()(std::coroutine_handle<> handle) const noexcept { handle.resume(); }  // a Task never throws out of resume
};

// call_soon(callback)'s queue, and the queue of coroutines ready to resume.
using CallbackQueue = BlockQueue<LoopCallback, RunCallback>;
using HandleQueue = BlockQueue<std::coroutine_handle<>, ResumeHandle>;

}  // namespace detail
}  // namespace v0
}  // namespace concur
