#include <concur/core/detail/spin_governor.hpp>

#include <sched.h>

namespace concur {
inline namespace v0 {
namespace detail {

bool SpinGovernor::yield() noexcept {
  const Clock::time_point before = Clock::now();
  if (!may_poll(before)) return false;
  ::sched_yield();
  return note_gap(before, Clock::now());
}

SpinGovernor& this_thread_spin_governor() noexcept {
  thread_local SpinGovernor governor;
  return governor;
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
