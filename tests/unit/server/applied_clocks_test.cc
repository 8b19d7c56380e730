#include "server/applied_clocks.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace paramd {
namespace {

using Arrival = AppliedClocks::Arrival;

TEST(AppliedClocksTest, EachClockIsNewOnceInAnyOrder) {
  AppliedClocks clocks;
  EXPECT_EQ(clocks.highest(), -1);
  for (int64_t clock : {3, 0, 2, 5, 1, 4}) {
    EXPECT_EQ(clocks.Insert(clock), Arrival::kNew) << clock;
  }
  for (int64_t clock = 0; clock <= 5; ++clock) {
    EXPECT_EQ(clocks.Insert(clock), Arrival::kRepeat) << clock;
  }
  EXPECT_EQ(clocks.highest(), 5);
  EXPECT_EQ(clocks.Insert(6), Arrival::kNew);
}

TEST(AppliedClocksTest, AClockBehindOthersIsStillNew) {
  AppliedClocks clocks;
  EXPECT_EQ(clocks.Insert(0), Arrival::kNew);
  EXPECT_EQ(clocks.Insert(9), Arrival::kNew);
  EXPECT_EQ(clocks.highest(), 9);
  // Clocks between the two are not taken for repeats, as "<= highest" was.
  for (int64_t clock = 1; clock < 9; ++clock) {
    EXPECT_EQ(clocks.Insert(clock), Arrival::kNew) << clock;
  }
  EXPECT_EQ(clocks.highest(), 9);
}

TEST(AppliedClocksTest, AGapOpenForMaxAheadLaterClocksIsGivenUpAndRefused) {
  AppliedClocks clocks;
  EXPECT_EQ(clocks.Insert(0), Arrival::kNew);
  // Clocks 1 and 2 do not come; the ones after them do.
  const int64_t last = 3 + AppliedClocks::kMaxAhead;
  for (int64_t clock = 3; clock < last; ++clock) {
    EXPECT_EQ(clocks.Insert(clock), Arrival::kNew);
  }
  EXPECT_EQ(clocks.Insert(3), Arrival::kRepeat);
  EXPECT_EQ(clocks.Insert(last), Arrival::kNew);  // one too many: given up
  EXPECT_EQ(clocks.Insert(1), Arrival::kTooLate);
  EXPECT_EQ(clocks.Insert(2), Arrival::kTooLate);
  EXPECT_EQ(clocks.Insert(0), Arrival::kRepeat);
  EXPECT_EQ(clocks.Insert(last), Arrival::kRepeat);
  EXPECT_EQ(clocks.highest(), last);
}

TEST(AppliedClocksTest, AWorkerStartingAtALaterClockIsCountedFromThere) {
  AppliedClocks clocks;
  // After a reset a worker goes on at its own clock, say 500: the clocks
  // below are never pushed, and their gap is given up in time.
  for (int64_t clock = 500; clock <= 500 + AppliedClocks::kMaxAhead; ++clock) {
    EXPECT_EQ(clocks.Insert(clock), Arrival::kNew);
  }
  EXPECT_EQ(clocks.Insert(499), Arrival::kTooLate);
  EXPECT_EQ(clocks.Insert(600), Arrival::kRepeat);
}

}  // namespace
}  // namespace paramd
