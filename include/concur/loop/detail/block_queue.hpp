// BlockQueue<T, Run>: the loop's FIFOs of what is ready (resumable coroutines, and
// call_soon's callbacks), in blocks of about 12 KiB. Growing never copies or moves what
// is queued, and the memory a burst touches is the burst's own size (a doubling vector
// touches twice that, and in this machine's VMs the first touch of a page is what a
// burst of a million call_soon costs). A turn takes what is queued and runs it; each
// block it empties goes at once (two at most are kept for the next pushes, so a loop
// that queues a few entries a turn allocates nothing once warm), so a burst of a
// million spawns leaves no memory behind once it has run.
// `Run{}(entry)` runs an entry and ends it (the queue then never destroys it).
// Thread safety: none (the loop's own queue).
#pragma once

#include <concur/loop/detail/loop_callback.hpp>

#include <coroutine>
#include <cstddef>
#include <new>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

template <class T, class Run>
class BlockQueue {
 public:
  BlockQueue() = default;
  BlockQueue(const BlockQueue&) = delete;
  BlockQueue& operator=(const BlockQueue&) = delete;
  ~BlockQueue() {
    drop_all(queued_);
    while (spare_ != nullptr) delete std::exchange(spare_, spare_->next);
  }

  template <class F>
  void emplace_back(F&& entry) {
    if (queued_.tail == nullptr || queued_.tail->end == kPerBlock) append_block();
    Block& tail = *queued_.tail;
    ::new (static_cast<void*>(tail.slot(tail.end))) T(std::forward<F>(entry));
    ++tail.end;
    ++size_;
  }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

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
  static constexpr std::size_t kPerBlock = 12 * 1024 / sizeof(T);
  struct Block {
    Block* next = nullptr;
    std::size_t begin = 0, end = 0;  // the live callbacks are [begin, end)
    alignas(T) unsigned char slots[kPerBlock * sizeof(T)];
    T* slot(std::size_t i) noexcept { return std::launder(reinterpret_cast<T*>(slots + i * sizeof(T))); }
  };
  struct Chain {
    Block* head = nullptr;
    Block* tail = nullptr;
  };

  void append_block() {
    Block* block = spare_;
    if (block != nullptr) {
      spare_ = block->next;
      --spares_;
    } else {
      block = new Block;
    }
    block->next = nullptr;
    block->begin = block->end = 0;
    if (queued_.tail != nullptr) {
      queued_.tail->next = block;
    } else {
      queued_.head = block;
    }
    queued_.tail = block;
  }
  void recycle(Block* block) noexcept {
    if (spares_ < 2) {
      block->next = spare_;
      spare_ = block;
      ++spares_;
    } else {
      delete block;
    }
  }
  // The rest of an interrupted batch goes before what was queued meanwhile.
  void put_back(Chain& batch) noexcept {
    for (Block* b = batch.head; b != nullptr; b = b->next) size_ += b->end - b->begin;
    if (batch.head == nullptr) return;
    batch.tail->next = queued_.head;
    if (queued_.tail == nullptr) queued_.tail = batch.tail;
    queued_.head = batch.head;
  }
  static void drop_all(Chain& chain) noexcept {
    while (chain.head != nullptr) {
      Block* block = std::exchange(chain.head, chain.head->next);
      for (std::size_t i = block->begin; i < block->end; ++i) block->slot(i)->~T();
      delete block;
    }
    chain.tail = nullptr;
  }

  Chain queued_;
  std::size_t size_ = 0;
  Block* spare_ = nullptr;
  std::size_t spares_ = 0;
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
