// SpinGovernor: whether a waiting thread may poll before it sleeps.
//
// concur's waits poll for a few tens of microseconds before they sleep, because waking
// a sleeping thread on another core costs 8-23 us here. That pays only while the
// waiter keeps a core: on an oversubscribed machine a polling thread that yields is
// runnable but not running, and whoever it waits for (or it itself) gets the CPU only
// when another program's time slice ends, a few milliseconds, where a sleeping waiter
// would have been woken with preemption. Measured here with two busy loops beside a
// ProcessPool: a 4 ms round trip, against Python's 178 us.
//
// So a poller times the yields it makes between polls (or the polls themselves): a gap
// over kDescheduledGap turns polling off for this thread for a quiet period, during
// which it sleeps at once, as a plain blocking wait would; polling then resumes on
// trial. A busy machine also deschedules a poller now and then when nothing else is
// wrong (here: a few times a second, for 0.3-4.5 ms), so the quiet period starts short
// (kMinQuiet) and doubles, up to kMaxQuiet, while the trips keep coming.
// Thread safety: one per thread (this_thread_spin_governor()).
#pragma once

#include <concur/export.hpp>

#include <algorithm>
#include <chrono>

namespace concur {
inline namespace v0 {
namespace detail {

class SpinGovernor {
 public:
  using Clock = std::chrono::steady_clock;
  // A poll of ours takes well under a microsecond, and a peer that a sched_yield lets
  // run for a while stays far below this; a time slice given to another program is
  // 1.5 ms or more under CFS on two cores.
  static constexpr auto kDescheduledGap = std::chrono::microseconds(250);
  static constexpr auto kMinQuiet = std::chrono::milliseconds(2);
  static constexpr auto kMaxQuiet = std::chrono::milliseconds(256);

  // Whether polling may start now.
  bool may_poll(Clock::time_point now) const noexcept { return now >= quiet_until_; }
  // Yields the CPU once (sched_yield), as a poller does between polls so that a peer on
  // the same core can run. False when the caller should stop polling and sleep: during
  // a quiet period (without yielding), or when the CPU came back only after
  // kDescheduledGap, which starts one.
  bool yield() noexcept;
  // The same test for the time between two polls that the caller timed itself (a
  // poller that does not yield is descheduled between two polls, not in a yield).
  bool note_gap(Clock::time_point before, Clock::time_point after) noexcept {
    if (after - before <= kDescheduledGap) return true;
    const bool again = after - quiet_until_ < 2 * quiet_;  // soon after the last quiet period
    quiet_ = again ? std::min<Clock::duration>(2 * quiet_, kMaxQuiet) : Clock::duration(kMinQuiet);
    quiet_until_ = after + quiet_;
    return false;
  }

 private:
  Clock::time_point quiet_until_{};
  Clock::duration quiet_{kMinQuiet};
};

// The calling thread's governor.
CONCUR_EXPORT SpinGovernor& this_thread_spin_governor() noexcept;

}  // namespace detail
}  // namespace v0
}  // namespace concur
