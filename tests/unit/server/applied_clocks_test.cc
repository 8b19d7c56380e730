#include "server/applied_clocks.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace paramd {
namespace {

TEST(AppliedClocksTest, EachClockIsNewOnceInAnyOrder) {
  AppliedClocks clocks;
  EXPECT_EQ(clocks.highest(), -1);
  for (int64_t clock : {3, 0, 2, 5, 1, 4}) {
    EXPECT_TRUE(clocks.Insert(clock)) << clock;
  }
  for (int64_t clock = 0; clock <= 5; ++clock) {
    EXPECT_TRUE(clocks.Contains(clock)) << clock;
    EXPECT_FALSE(clocks.Insert(clock)) << clock;
  }
  EXPECT_FALSE(clocks.Contains(6));
  EXPECT_EQ(clocks.highest(), 5);
}

TEST(AppliedClocksTest, AClockBehindOthersIsStillNew) {
  AppliedClocks clocks;
  EXPECT_TRUE(clocks.Insert(0));
  EXPECT_TRUE(clocks.Insert(9));
  EXPECT_EQ(clocks.highest(), 9);
  // Clocks between the two are not counted as seen, as "<= highest" would.
  for (int64_t clock = 1; clock < 9; ++clock) {
    EXPECT_FALSE(clocks.Contains(clock)) << clock;
    EXPECT_TRUE(clocks.Insert(clock)) << clock;
  }
  EXPECT_EQ(clocks.highest(), 9);
}

TEST(AppliedClocksTest, AGapOpenForMaxAheadLaterClocksIsGivenUp) {
  AppliedClocks clocks;
  EXPECT_TRUE(clocks.Insert(0));
  // Clock 1 never comes; the ones after it arrive.
  for (int64_t clock = 2; clock < 2 + AppliedClocks::kMaxAhead; ++clock) {
    EXPECT_TRUE(clocks.Insert(clock));
  }
  EXPECT_FALSE(clocks.Contains(1));  // still waited for
  EXPECT_TRUE(clocks.Insert(2 + AppliedClocks::kMaxAhead));
  EXPECT_TRUE(clocks.Contains(1));  // given up: a late copy is a repeat
  EXPECT_FALSE(clocks.Insert(1));
  EXPECT_EQ(clocks.highest(), 2 + AppliedClocks::kMaxAhead);
  EXPECT_TRUE(clocks.Insert(3 + AppliedClocks::kMaxAhead));
}

}  // namespace
}  // namespace paramd
