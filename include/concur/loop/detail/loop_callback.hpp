// LoopCallback: a callable queued on the loop (call_soon), 24 bytes. A small trivially
// copyable callable (a lambda capturing up to two pointers) is stored in place; others
// live on the heap. One function pointer serves both running and dropping, so that a
// million queued callbacks take 24 MB rather than 40 (their first touch, not their
// calls, is what a burst of call_soon costs). Moving one copies its bytes, so the loop's
// ready vector grows without running any callable's move constructor.
// Running consumes it: a callback runs at most once, and a heap-held one is freed after
// its call, also when the call throws.
// Thread safety: none (the loop's own queue).
#pragma once

#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

class LoopCallback {
 public:
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, LoopCallback> && std::is_invocable_v<std::decay_t<F>&>)
  explicit LoopCallback(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (sizeof(D) <= sizeof(storage_) && alignof(D) <= alignof(void*) && std::is_trivially_copyable_v<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
      act_ = [](LoopCallback& self, Act act) {
        if (act == Act::run) (*std::launder(reinterpret_cast<D*>(self.storage_)))();
      };
    } else {
      D* held = new D(std::forward<F>(f));
      std::memcpy(storage_, &held, sizeof held);
      act_ = [](LoopCallback& self, Act act) {
        D* p = nullptr;
        std::memcpy(&p, self.storage_, sizeof p);
        const std::unique_ptr<D> owned(p);
        if (act == Act::run) (*owned)();
      };
    }
  }
  LoopCallback(LoopCallback&& other) noexcept : act_(std::exchange(other.act_, nullptr)) {
    std::memcpy(storage_, other.storage_, sizeof storage_);
  }
  LoopCallback& operator=(LoopCallback&& other) noexcept {
    if (this != &other) {
      drop();
      act_ = std::exchange(other.act_, nullptr);
      std::memcpy(storage_, other.storage_, sizeof storage_);
    }
    return *this;
  }
  ~LoopCallback() { drop(); }

  // Runs the callable once; afterwards this holds nothing.
  void operator()() {
    if (auto act = std::exchange(act_, nullptr)) act(*this, Act::run);
  }
  // For a queue: runs the callable (it must hold one) and ends this object, also when
  // the call throws: its storage may be reused without the destructor, which would have
  // nothing left to drop. Saves the store that marks an object consumed.
  void run_and_end() { act_(*this, Act::run); }

 private:
  enum class Act { run, drop };
  void drop() noexcept {
    // Dropping never calls the callable; a heap one's destructor must not throw.
    if (auto act = std::exchange(act_, nullptr)) act(*this, Act::drop);
  }

  alignas(void*) unsigned char storage_[16];
  void (*act_)(LoopCallback&, Act) = nullptr;
};

static_assert(sizeof(LoopCallback) == 24);

}  // namespace detail
}  // namespace v0
}  // namespace concur
