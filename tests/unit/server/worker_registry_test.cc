#include "server/worker_registry.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace paramd {
namespace {

absl::Time T(int seconds) { return absl::FromUnixSeconds(1000 + seconds); }

TEST(WorkerRegistryTest, IssuesIdsInOrderAndKeepsAReturningWorkersId) {
  WorkerRegistry registry;
  EXPECT_EQ(registry.Add("h", "trainer", 0, 0, T(0)).value_or(0), 1u);
  EXPECT_EQ(registry.Add("h", "trainer", 7, 0, T(0)).value_or(0), 7u);
  EXPECT_EQ(registry.Add("h", "evaluator", 0, 0, T(0)).value_or(0), 8u);
  EXPECT_EQ(registry.Add("h", "trainer", 7, 0, T(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.LiveTrainers(), (std::vector<uint64_t>{1, 7}));
}

TEST(WorkerRegistryTest, RefusesRolesAndIdsItCouldNotIssue) {
  EXPECT_EQ(WorkerRegistry::CheckRegistration("painter", 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      WorkerRegistry::CheckRegistration("trainer", WorkerRegistry::kMaxWorkerId)
          .code(),
      absl::StatusCode::kInvalidArgument);
  WorkerRegistry registry;
  registry.Resume(UINT64_MAX);
  EXPECT_EQ(registry.next_id(), WorkerRegistry::kMaxWorkerId);
}

TEST(WorkerRegistryTest, FindsARegistrationByItsRequestId) {
  WorkerRegistry registry;
  const uint64_t id = registry.Add("h", "trainer", 0, 42, T(0)).value();
  EXPECT_EQ(registry.FindRegistration(42), id);
  EXPECT_FALSE(registry.FindRegistration(43).has_value());
  EXPECT_FALSE(registry.FindRegistration(0).has_value()) << "0: no dedup";
}

TEST(WorkerRegistryTest, SilentWorkersAreMarkedDeadOnce) {
  WorkerRegistry registry;
  const uint64_t a = registry.Add("h", "trainer", 0, 0, T(0)).value();
  const uint64_t b = registry.Add("h", "trainer", 0, 0, T(0)).value();
  (*registry.Find(b))->last_seen = T(8);
  auto dead = registry.MarkSilentDead(T(11), absl::Seconds(10));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].first, a);
  EXPECT_EQ(dead[0].second, absl::Seconds(11));
  EXPECT_TRUE(registry.MarkSilentDead(T(12), absl::Seconds(10)).empty());
  EXPECT_EQ(registry.LiveTrainers(), (std::vector<uint64_t>{b}));
  EXPECT_EQ(registry.Find(99).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace paramd
