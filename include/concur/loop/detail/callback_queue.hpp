// CallbackQueue: the loop's FIFO of ready callbacks (call_soon), in blocks of 512.
// Growing never copies or moves what is queued, and the memory a burst touches is the
// burst's own size (a doubling vector touches twice that, and in this machine's VMs the
// first touch of a page is what a burst of a million call_soon costs). A turn takes
// what is queued and runs it; blocks it empties are kept (two at most) for the next
// pushes, so a loop that queues a few callbacks a turn allocates nothing once warm.
// Thread safety: none (the loop's own queue).
#pragma once

#include <concur/loop/detail/loop_callback.hpp>

#include <cstddef>
#include <new>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

class CallbackQueue {
 public:
  CallbackQueue() = default;
  CallbackQueue(const CallbackQueue&) = delete;
  CallbackQueue& operator=(const CallbackQueue&) = delete;
  ~CallbackQueue() {
    drop_all(queued_);
    while (spare_ != nullptr) delete std::exchange(spare_, spare_->next);
  }

  template <class F>
  void emplace_back(F&& callback) {
    if (queued_.tail == nullptr || queued_.tail->end == kPerBlock) append_block();
    Block& tail = *queued_.tail;
    ::new (static_cast<void*>(tail.slot(tail.end))) LoopCallback(std::forward<F>(callback));
    ++tail.end;
    ++size_;
  }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // Runs what is queued now, in order; what those callbacks queue waits for the next
  // call. When one throws, the ones after it stay queued, first in line, and the
  // exception propagates.
  void run_batch() {
    Chain batch = std::exchange(queued_, Chain{});
    size_ = 0;
    while (batch.head != nullptr) {
      Block& block = *batch.head;
      while (block.begin < block.end) {
        try {
          block.slot(block.begin++)->run_and_end();
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
  static constexpr std::size_t kPerBlock = 512;
  struct Block {
    Block* next = nullptr;
    std::size_t begin = 0, end = 0;  // the live callbacks are [begin, end)
    alignas(LoopCallback) unsigned char slots[kPerBlock * sizeof(LoopCallback)];
    LoopCallback* slot(std::size_t i) noexcept {
      return std::launder(reinterpret_cast<LoopCallback*>(slots + i * sizeof(LoopCallback)));
    }
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
      for (std::size_t i = block->begin; i < block->end; ++i) block->slot(i)->~LoopCallback();
      delete block;
    }
    chain.tail = nullptr;
  }

  Chain queued_;
  std::size_t size_ = 0;
  Block* spare_ = nullptr;
  std::size_t spares_ = 0;
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
