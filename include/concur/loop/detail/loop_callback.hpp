// LoopCallback: a callable queued on the loop (call_soon). Small trivially copyable
// callables (a lambda capturing a pointer or two) are stored in place and cost one
// indirect call; others live on the heap. Moving one is a copy of its 40 bytes, so the
// loop's ready vector grows without running any callable's move constructor.
// Thread safety: none (the loop's own queue).
#pragma once

#include <cstring>
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
      invoke_ = [](LoopCallback& self) { (*std::launder(reinterpret_cast<D*>(self.storage_)))(); };
    } else {
      D* held = new D(std::forward<F>(f));
      std::memcpy(storage_, &held, sizeof held);
      invoke_ = [](LoopCallback& self) { (*self.held<D>())(); };
      destroy_ = [](LoopCallback& self) noexcept { delete self.held<D>(); };
    }
  }
  LoopCallback(LoopCallback&& other) noexcept
      : invoke_(other.invoke_), destroy_(std::exchange(other.destroy_, nullptr)) {
    std::memcpy(storage_, other.storage_, sizeof storage_);
  }
  LoopCallback& operator=(LoopCallback&& other) noexcept {
    if (this != &other) {
      if (destroy_ != nullptr) destroy_(*this);
      invoke_ = other.invoke_;
      destroy_ = std::exchange(other.destroy_, nullptr);
      std::memcpy(storage_, other.storage_, sizeof storage_);
    }
    return *this;
  }
  ~LoopCallback() {
    if (destroy_ != nullptr) destroy_(*this);
  }

  void operator()() { invoke_(*this); }

 private:
  template <class D>
  D* held() const noexcept {
    D* p = nullptr;
    std::memcpy(&p, storage_, sizeof p);
    return p;
  }

  alignas(void*) unsigned char storage_[24];
  void (*invoke_)(LoopCallback&) = nullptr;
  void (*destroy_)(LoopCallback&) noexcept = nullptr;
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
