// SpinGovernor: a waiter stops polling when a yield shows it was descheduled (another
// program holds the core), for a quiet period that starts short and doubles while the
// trips keep coming. The times are made up: what is tested is the rule, not the clock.
#include <concur/core/detail/spin_governor.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace concur::detail {
namespace {

using Clock = SpinGovernor::Clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

const Clock::time_point t0 = Clock::now();

TEST(SpinGovernor, AShortYieldKeepsPolling) {
  SpinGovernor governor;
  EXPECT_TRUE(governor.may_poll(t0));
  EXPECT_TRUE(governor.note_gap(t0, t0 + microseconds(5)));
  EXPECT_TRUE(governor.note_gap(t0, t0 + SpinGovernor::kDescheduledGap)) << "the bound itself is not a trip";
  EXPECT_TRUE(governor.may_poll(t0 + microseconds(10)));
}

TEST(SpinGovernor, ADescheduledYieldStopsPollingForTheShortestQuietPeriod) {
  SpinGovernor governor;
  const auto back = t0 + milliseconds(4);  // a time slice given to another program
  EXPECT_FALSE(governor.note_gap(t0, back));
  EXPECT_FALSE(governor.may_poll(back));
  EXPECT_FALSE(governor.may_poll(back + SpinGovernor::kMinQuiet - microseconds(1)));
  EXPECT_TRUE(governor.may_poll(back + SpinGovernor::kMinQuiet));
}

TEST(SpinGovernor, TripsThatKeepComingDoubleTheQuietPeriodUpToItsBound) {
  SpinGovernor governor;
  auto now = t0;
  auto quiet = Clock::duration(SpinGovernor::kMinQuiet);
  for (int trip = 0; trip < 12; ++trip) {
    const auto back = now + milliseconds(3);
    EXPECT_FALSE(governor.note_gap(now, back));
    EXPECT_FALSE(governor.may_poll(back + quiet - microseconds(1))) << "trip " << trip;
    EXPECT_TRUE(governor.may_poll(back + quiet)) << "trip " << trip;
    now = back + quiet;  // polling resumes on trial and trips again at once
    quiet = std::min<Clock::duration>(2 * quiet, SpinGovernor::kMaxQuiet);
  }
  EXPECT_EQ(quiet, Clock::duration(SpinGovernor::kMaxQuiet));
}

TEST(SpinGovernor, ATripLongAfterTheLastStartsShortAgain) {
  SpinGovernor governor;
  EXPECT_FALSE(governor.note_gap(t0, t0 + milliseconds(3)));
  EXPECT_FALSE(governor.note_gap(t0 + milliseconds(5), t0 + milliseconds(8)));  // soon: 4 ms quiet
  EXPECT_FALSE(governor.may_poll(t0 + milliseconds(11)));
  const auto later = t0 + std::chrono::seconds(5);  // a calm stretch in between
  EXPECT_FALSE(governor.note_gap(later, later + milliseconds(3)));
  EXPECT_TRUE(governor.may_poll(later + milliseconds(3) + SpinGovernor::kMinQuiet));
}

TEST(SpinGovernor, EachThreadHasItsOwn) {
  SpinGovernor* here = &this_thread_spin_governor();
  SpinGovernor* there = nullptr;
  std::thread([&] { there = &this_thread_spin_governor(); }).join();
  EXPECT_NE(here, there);
  EXPECT_EQ(here, &this_thread_spin_governor());
}

}  // namespace
}  // namespace concur::detail
