// The coordinator SIGKILLed mid-training and restarted: it restores the
// job's progress from its state file, the workers register again on their
// own (keeping their ids and the shards they were training), and the job
// finishes with every shard of every epoch completed exactly once.
#include <signal.h>

#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
namespace v1 = ::paramd::v1;

TEST(CoordinatorCrashTest, RestartedCoordinatorRestoresProgress) {
  const auto options = testing::FaultJob("coordinator-crash");
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto midway = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.epochs_status_size() > 0 &&
               s.epochs_status(0).shards_done() >= 2 && s.leases_size() > 0;
      },
      absl::Seconds(90));
  ASSERT_TRUE(midway.ok()) << midway.status();
  std::set<uint64_t> ids;
  for (const auto& w : midway->workers()) ids.insert(w.worker_id());

  const absl::Time killed = absl::Now();
  auto restarted =
      (*cluster)->CrashAndRestart((*cluster)->cluster().coordinator());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(*restarted, (std::vector<std::string>{"coordinator"}));

  // Progress survived, and training goes on.
  const int done_before = midway->epochs_status(0).shards_done();
  auto resumed = (*cluster)->WaitFor(
      [&](const v1::GetStatusResponse& s) {
        return s.epochs_status_size() > 0 &&
               (s.epoch() > 0 ||
                s.epochs_status(0).shards_done() > done_before);
      },
      absl::Seconds(60));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  std::cout << "coordinator crash: a shard completed again "
            << absl::FormatDuration(absl::Now() - killed)
            << " after the kill (including the 1 s before the restart)"
            << std::endl;

  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  std::set<uint64_t> after;
  for (const auto& w : status->workers()) after.insert(w.worker_id());
  EXPECT_EQ(after, ids) << "workers came back under their own ids";
  EXPECT_EQ(status->generation(), 0u) << "no parameter rollback";

  auto fault_free =
      testing::FaultFreeRun(testing::FaultJob("coordinator-crash"));
  ASSERT_TRUE(fault_free.ok()) << fault_free.status();
  testing::ExpectQualityNear(*status, *fault_free);
}

// The coordinator stopped (SIGSTOP) for three lease timeouts while the
// trainers keep training and heartbeating into the void: once it runs
// again it judges their silence only over time it could have heard them,
// so no lease expires and no shard is trained twice.
TEST(CoordinatorCrashTest, APausedCoordinatorExpiresNoLeaseOfALiveWorker) {
  auto cluster = TestCluster::Start(testing::FaultJob("coordinator-pause"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto training = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.leases_size() == 2 && s.examples() > 0 && !s.done();
      },
      absl::Seconds(60));
  ASSERT_TRUE(training.ok()) << training.status();
  Subprocess* coordinator = (*cluster)->cluster().coordinator();
  coordinator->Signal(SIGSTOP);
  absl::SleepFor(absl::Seconds(6));  // lease_timeout_s is 2
  coordinator->Signal(SIGCONT);

  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  EXPECT_EQ(status->expired_leases(), 0);
  for (const v1::WorkerStatus& worker : status->workers()) {
    EXPECT_TRUE(worker.alive()) << "worker " << worker.worker_id();
  }
  EXPECT_TRUE(absl::StrContains(
      testing::ReadFileOrEmpty(coordinator->log_path()), "unresponsive for"));
}

}  // namespace
}  // namespace paramd
