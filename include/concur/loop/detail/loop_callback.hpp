// LoopCallback: a callable queued on the loop (call_soon), 24 bytes. A small trivially
// copyable callable (a lambda capturing up to two pointers) is stored in place; others
// live on the heap. One function pointer serves both running and dropping, so that a
// million queued callbacks take 24 MB rather than 40 (their first touch, not their
// calls, is what a burst of call_soon costs). It lives where CallbackQueue built it and
// never moves. Ends either by run_and_end (the callable runs once; a heap-held one is
// freed after its call, also when the call throws) or by its destructor (dropped
// unrun).
// Thread safety: none (the loop's own queue).
#pragma once

#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>  // std::forward

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
  LoopCallback(const LoopCallback&) = delete;
  LoopCallback& operator=(const LoopCallback&) = delete;
  // Drops the callable unrun; a heap one's destructor must not throw.
  ~LoopCallback() { act_(*this, Act::drop); }

  // Runs the callable and ends this object, also when the call throws: its storage may
  // be reused without the destructor, which would have nothing left to drop.
  void run_and_end() { act_(*this, Act::run); }

 private:
  enum class Act { run, drop };

  alignas(void*) unsigned char storage_[16];
  void (*act_)(LoopCallback&, Act);
};

static_assert(sizeof(LoopCallback) == 24);

}  // namespace detail
}  // namespace v0
}  // namespace concur
