#include "server/recovery.h"

#include <vector>

#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

JobConfig Job(Consistency consistency) {
  JobConfig job;
  job.name = "recovery-test";
  job.consistency = consistency;
  job.heartbeat_interval_s = 1;
  job.checkpoint.dir = "/unused";
  return job;
}

v1::ServerHeartbeatRequest Report(int32_t shard, int64_t version,
                                  std::vector<int64_t> checkpoints,
                                  uint64_t generation = 0) {
  v1::ServerHeartbeatRequest report;
  report.set_shard(shard);
  report.set_version(version);
  report.set_generation(generation);
  for (int64_t v : checkpoints) report.add_checkpoints(v);
  return report;
}

absl::Time T(double s) { return absl::UnixEpoch() + absl::Seconds(s); }

TEST(RecoveryTest, NoRollbackOnAFreshStart) {
  Recovery recovery(Job(Consistency::kBsp), 2);
  recovery.ServerStarted(0, /*progress=*/false);
  recovery.ServerStarted(1, false);
  recovery.Report(Report(0, 0, {}), T(0));
  recovery.Report(Report(1, 0, {}), T(0));
  EXPECT_FALSE(recovery.MaybeRollBack().has_value());
  EXPECT_FALSE(recovery.Settling());
  v1::ServerHeartbeatResponse response;
  recovery.FillResponse(0, &response);
  EXPECT_FALSE(response.hold());
  EXPECT_EQ(response.generation(), 0u);
}

TEST(RecoveryTest, RestartRollsBackToTheNewestVersionEveryShardHolds) {
  Recovery recovery(Job(Consistency::kBsp), 2);
  recovery.Report(Report(0, 40, {10, 20, 30}), T(0));
  recovery.Report(Report(1, 40, {10, 20, 30}), T(0));
  // Shard 1 restarts; its newest file (30) turned out bad.
  recovery.ServerStarted(1, /*progress=*/true);
  v1::ServerHeartbeatResponse held;
  recovery.FillResponse(1, &held);
  EXPECT_TRUE(held.hold());
  EXPECT_TRUE(recovery.Settling());
  EXPECT_FALSE(recovery.MaybeRollBack().has_value()) << "shard 1 not heard";
  recovery.Report(Report(1, 0, {10, 20}), T(1));
  std::optional<Rollback> rollback = recovery.MaybeRollBack();
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->generation, 1u);
  EXPECT_EQ(rollback->versions, (std::vector<int64_t>{20, 20}));
  EXPECT_FALSE(recovery.MaybeRollBack().has_value()) << "only once";

  v1::ServerHeartbeatResponse response;
  recovery.FillResponse(0, &response);
  EXPECT_FALSE(response.hold());
  EXPECT_EQ(response.generation(), 1u);
  EXPECT_EQ(response.restore_version(), 20);
  EXPECT_TRUE(recovery.Settling()) << "servers still at generation 0";
  recovery.Report(Report(0, 20, {10, 20, 30}, 1), T(2));
  recovery.Report(Report(1, 20, {10, 20}, 1), T(2));
  EXPECT_FALSE(recovery.Settling());
  EXPECT_EQ(recovery.rollbacks(), (std::vector<int64_t>{20}));

  // Completions are kept when the restored version covers their clock.
  v1::Completion early, late;
  early.set_clock(20);
  late.set_clock(21);
  EXPECT_TRUE(rollback->Keeps(early, 5));
  EXPECT_FALSE(rollback->Keeps(late, 0));
}

TEST(RecoveryTest, AFailedRestoreFallsBackToAnOlderCheckpoint) {
  Recovery recovery(Job(Consistency::kBsp), 2);
  recovery.ServerStarted(0, true);
  recovery.Report(Report(0, 0, {10, 20}), T(0));
  recovery.Report(Report(1, 25, {10, 20}), T(0));
  ASSERT_EQ(recovery.MaybeRollBack()->versions[0], 20);
  // Shard 0 finds its file of version 20 corrupted and drops it.
  v1::ServerHeartbeatRequest failed = Report(0, 0, {10}, 0);
  failed.set_restore_error("shard-0-v20.ckpt: checksum mismatch");
  recovery.Report(failed, T(1));
  std::optional<Rollback> again = recovery.MaybeRollBack();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->versions, (std::vector<int64_t>{10, 10}));
  EXPECT_EQ(again->generation, 2u);
}

TEST(RecoveryTest, AVersionThatFailsToRestoreIsNeverPickedAgain) {
  Recovery recovery(Job(Consistency::kBsp), 2);
  recovery.ServerStarted(0, true);
  recovery.Report(Report(0, 0, {10, 20}), T(0));
  recovery.Report(Report(1, 25, {10, 20}), T(0));
  ASSERT_EQ(recovery.MaybeRollBack()->versions[0], 20);
  // The file reads fine but does not fit (so it stays listed), twice with
  // the same message.
  v1::ServerHeartbeatRequest failed = Report(0, 0, {10, 20}, 0);
  failed.set_restore_error("checkpoint is of job 'other'");
  recovery.Report(failed, T(1));
  ASSERT_EQ(recovery.MaybeRollBack()->versions[0], 10);
  recovery.Report(failed, T(2));
  recovery.Report(failed, T(2.5));  // the same failure, heard twice
  std::optional<Rollback> last = recovery.MaybeRollBack();
  ASSERT_TRUE(last.has_value()) << "the same message again still counts";
  EXPECT_EQ(last->versions[0], 0);
  EXPECT_EQ(last->generation, 3u);
  EXPECT_FALSE(recovery.MaybeRollBack().has_value()) << "once per failure";
}

TEST(RecoveryTest, NoCommonCheckpointMeansTheInitialValues) {
  Recovery recovery(Job(Consistency::kBsp), 2);
  recovery.ServerStarted(0, true);
  recovery.Report(Report(0, 0, {}), T(0));
  recovery.Report(Report(1, 9, {5}), T(0));
  std::optional<Rollback> rollback = recovery.MaybeRollBack();
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->versions, (std::vector<int64_t>{0, 0}));
  v1::Completion done;
  done.set_clock(1);
  EXPECT_FALSE(rollback->Keeps(done, 0));
}

TEST(RecoveryTest, BspOrderIsPlacedAheadAndFinishesWhenAllShardsHoldIt) {
  Recovery recovery(Job(Consistency::kBsp), 2);
  recovery.Report(Report(0, 100, {}), T(0));
  recovery.Report(Report(1, 100, {}), T(0));
  // Idle servers: the order is at their version.
  absl::StatusOr<v1::CheckpointOrder> idle = recovery.Order(T(0), 3);
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->version(), 100);
  v1::ServerHeartbeatResponse response;
  recovery.FillResponse(1, &response);
  EXPECT_EQ(response.checkpoint().id(), idle->id());
  v1::ServerHeartbeatRequest done0 = Report(0, 100, {100});
  done0.set_checkpoint_id(idle->id());
  recovery.Report(done0, T(0.5));
  EXPECT_FALSE(recovery.MaybeFinish(T(0.5)).has_value()) << "shard 1 missing";
  v1::ServerHeartbeatRequest done1 = Report(1, 100, {100});
  done1.set_checkpoint_id(idle->id());
  recovery.Report(done1, T(0.5));
  std::optional<v1::CheckpointRecord> record = recovery.MaybeFinish(T(0.5));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->versions(0), 100);
  EXPECT_EQ(record->log_size(), 3u);
  EXPECT_EQ(recovery.records().size(), 1u);

  // Versions growing 50/s: the next order is placed ahead of them.
  recovery.Report(Report(0, 150, {100}), T(1.5));
  recovery.Report(Report(1, 150, {100}), T(1.5));
  absl::StatusOr<v1::CheckpointOrder> busy = recovery.Order(T(1.5), 3);
  ASSERT_TRUE(busy.ok());
  EXPECT_GE(busy->version(), 150 + 50);
  EXPECT_GT(busy->id(), idle->id());
  // A server already past it says so: it is ordered again further ahead.
  v1::ServerHeartbeatRequest missed = Report(0, 400, {100});
  missed.set_checkpoint_id(busy->id());
  missed.set_checkpoint_missed(true);
  recovery.Report(missed, T(2));
  EXPECT_FALSE(recovery.MaybeFinish(T(2)).has_value());
  v1::ServerHeartbeatResponse again;
  recovery.FillResponse(0, &again);
  EXPECT_GT(again.checkpoint().id(), busy->id());
  EXPECT_GT(again.checkpoint().version(), 400);
}

TEST(RecoveryTest, AnOrderAServerCouldNotWriteIsOrderedAgainWithBackoff) {
  JobConfig job = Job(Consistency::kAsp);
  job.checkpoint.every_s = 60;  // failures, not the period, drive retries
  Recovery recovery(job, 2);
  recovery.Report(Report(0, 10, {}), T(0));
  recovery.Report(Report(1, 10, {}), T(0));
  auto fail = [&](uint64_t id, double at) {
    v1::ServerHeartbeatRequest report = Report(1, 10, {});
    report.set_checkpoint_id(id);
    report.set_checkpoint_error("No space left on device");
    recovery.Report(report, T(at));
    EXPECT_FALSE(recovery.MaybeFinish(T(at)).has_value());
  };
  absl::StatusOr<v1::CheckpointOrder> first = recovery.Order(T(0), 0);
  ASSERT_TRUE(first.ok());
  fail(first->id(), 0.5);
  v1::CheckpointFailure failure = recovery.checkpoint_failure(T(0.5));
  EXPECT_EQ(failure.id(), first->id());
  EXPECT_EQ(failure.shard(), 1);
  EXPECT_EQ(failure.error(), "No space left on device");
  EXPECT_EQ(failure.failures_in_a_row(), 1);
  // Dropped at once; the next comes a second later, then two.
  v1::ServerHeartbeatResponse response;
  recovery.FillResponse(0, &response);
  EXPECT_FALSE(response.has_checkpoint());
  EXPECT_FALSE(recovery.MaybeOrder(T(1.4), 0));
  ASSERT_TRUE(recovery.MaybeOrder(T(1.5), 0));
  recovery.FillResponse(0, &response);
  const uint64_t second = response.checkpoint().id();
  EXPECT_GT(second, first->id());
  fail(second, 1.6);
  EXPECT_EQ(recovery.checkpoint_failure(T(2)).failures_in_a_row(), 2);
  EXPECT_DOUBLE_EQ(recovery.checkpoint_failure(T(2)).since_s(), 1.5);
  EXPECT_FALSE(recovery.MaybeOrder(T(3.5), 0));
  ASSERT_TRUE(recovery.MaybeOrder(T(3.6), 0));
  recovery.FillResponse(0, &response);
  const uint64_t third = response.checkpoint().id();
  for (int32_t shard : {0, 1}) {
    v1::ServerHeartbeatRequest done = Report(shard, 10, {10});
    done.set_checkpoint_id(third);
    done.set_checkpoint_version(10);
    recovery.Report(done, T(4));
  }
  ASSERT_TRUE(recovery.MaybeFinish(T(4)).has_value());
  failure = recovery.checkpoint_failure(T(5));
  EXPECT_EQ(failure.failures_in_a_row(), 0) << "recovered";
  EXPECT_EQ(failure.id(), second) << "the latest failure is still shown";
  EXPECT_DOUBLE_EQ(failure.since_s(), 1);
  // Back to the configured period.
  EXPECT_FALSE(recovery.MaybeOrder(T(6), 0));
}

TEST(RecoveryTest, AspRollsBackToARecordedCheckpointAndCutsTheLog) {
  Recovery recovery(Job(Consistency::kAsp), 2);
  recovery.Report(Report(0, 70, {}), T(0));
  recovery.Report(Report(1, 90, {}), T(0));
  absl::StatusOr<v1::CheckpointOrder> order = recovery.Order(T(0), 4);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->version(), -1) << "asp: at once";
  // Each names the version it wrote; their lists may hold newer ones.
  v1::ServerHeartbeatRequest a = Report(0, 72, {71});
  a.set_checkpoint_id(order->id());
  a.set_checkpoint_version(71);
  v1::ServerHeartbeatRequest b = Report(1, 95, {93, 94});
  b.set_checkpoint_id(order->id());
  b.set_checkpoint_version(93);
  recovery.Report(a, T(1));
  recovery.Report(b, T(1));
  ASSERT_TRUE(recovery.MaybeFinish(T(1)).has_value());
  recovery.ServerStarted(1, true);
  recovery.Report(Report(1, 0, {93}), T(2));
  std::optional<Rollback> rollback = recovery.MaybeRollBack();
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->versions, (std::vector<int64_t>{71, 93}));
  v1::Completion done;
  EXPECT_TRUE(rollback->Keeps(done, 3));
  EXPECT_FALSE(rollback->Keeps(done, 4));
}

TEST(RecoveryTest, OrderWithoutADirectoryIsRefused) {
  JobConfig job = Job(Consistency::kBsp);
  job.checkpoint.dir.clear();
  Recovery recovery(job, 1);
  recovery.Report(Report(0, 1, {}), T(0));
  EXPECT_EQ(recovery.Order(T(0), 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RecoveryTest, SavedStateSurvivesARestart) {
  Recovery before(Job(Consistency::kBsp), 2);
  before.ServerStarted(0, true);
  before.Report(Report(0, 0, {8}), T(0));
  before.Report(Report(1, 9, {8}), T(0));
  ASSERT_TRUE(before.MaybeRollBack().has_value());
  v1::CoordinatorState state;
  before.Save(&state);
  Recovery after(Job(Consistency::kBsp), 2);
  after.Restore(state);
  EXPECT_EQ(after.generation(), 1u);
  EXPECT_EQ(after.rollbacks(), (std::vector<int64_t>{8}));
  v1::ServerHeartbeatResponse response;
  after.FillResponse(1, &response);
  EXPECT_EQ(response.restore_version(), 8);
}

// The coordinator and a server restart together before any shard is done:
// the server registers before the others' first heartbeats, but the saved
// checkpoint says the job had moved, so the cluster rolls back to it (a
// server at version 0 beside one at 416 would stall every bsp round).
TEST(RecoveryTest, AServerRestartedWithTheCoordinatorRollsBack) {
  Recovery before(Job(Consistency::kBsp), 2);
  before.Report(Report(0, 388, {}), T(0));
  before.Report(Report(1, 388, {}), T(0));
  absl::StatusOr<v1::CheckpointOrder> order = before.Order(T(0), 0);
  ASSERT_TRUE(order.ok());
  for (int32_t shard : {0, 1}) {
    v1::ServerHeartbeatRequest wrote = Report(shard, 390, {388});
    wrote.set_checkpoint_id(order->id());
    wrote.set_checkpoint_version(388);
    before.Report(wrote, T(1));
  }
  ASSERT_TRUE(before.MaybeFinish(T(1)).has_value());
  v1::CoordinatorState state;
  before.Save(&state);

  Recovery after(Job(Consistency::kBsp), 2);
  after.Restore(state);
  after.ServerStarted(0, /*progress=*/false);
  v1::ServerHeartbeatResponse held;
  after.FillResponse(0, &held);
  EXPECT_TRUE(held.hold());
  after.Report(Report(0, 0, {388}), T(2));
  after.Report(Report(1, 416, {388}), T(2));
  std::optional<Rollback> rollback = after.MaybeRollBack();
  ASSERT_TRUE(rollback.has_value());
  EXPECT_EQ(rollback->versions, (std::vector<int64_t>{388, 388}));
}

TEST(RecoveryTest, OrdersByTimeAndBySteps) {
  JobConfig job = Job(Consistency::kBsp);
  job.checkpoint.every_s = 10;
  Recovery by_time(job, 1);
  by_time.Report(Report(0, 5, {}), T(0));
  by_time.MaybeOrder(T(0), 0);  // starts the clock
  v1::ServerHeartbeatResponse response;
  by_time.MaybeOrder(T(9), 0);
  by_time.FillResponse(0, &response);
  EXPECT_FALSE(response.has_checkpoint()) << "too early";
  by_time.MaybeOrder(T(10), 0);
  by_time.FillResponse(0, &response);
  EXPECT_EQ(response.checkpoint().id(), 1u);

  job.checkpoint.every_s = 0;
  job.checkpoint.every_steps = 100;
  Recovery by_steps(job, 1);
  by_steps.Report(Report(0, 99, {}), T(0));
  by_steps.MaybeOrder(T(0), 0);
  v1::ServerHeartbeatResponse none;
  by_steps.FillResponse(0, &none);
  EXPECT_FALSE(none.has_checkpoint());
  by_steps.Report(Report(0, 100, {}), T(0.1));
  by_steps.MaybeOrder(T(0.1), 0);
  v1::ServerHeartbeatResponse ordered;
  by_steps.FillResponse(0, &ordered);
  EXPECT_EQ(ordered.checkpoint().id(), 1u);
}

}  // namespace
}  // namespace paramd
