// ssp with staleness 2: a worker paused for a second lets the other run
// ahead, but never more than 2 clocks past the slowest live worker; every
// server says so, and the job completes with an exact ledger.
#include <signal.h>

#include <iostream>

#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
namespace v1 = ::paramd::v1;

constexpr int kStaleness = 2;

v1::ServerInfoResponse Info(TestCluster& cluster, int shard) {
  absl::StatusOr<v1::ServerInfoResponse> info = cluster.ServerInfo(shard);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.value_or(v1::ServerInfoResponse());
}

TEST(SspTest, NoWorkerRunsMoreThanStalenessAheadOfTheSlowest) {
  const auto options = testing::FaultJob("ssp", "ssp\n  staleness: 2");
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto training = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.leases_size() == 2 && s.examples() > 100;
      },
      absl::Seconds(60));
  ASSERT_TRUE(training.ok()) << training.status();
  Subprocess* slow =
      testing::ProcessOf(**cluster, *training, training->leases(0).worker_id());
  ASSERT_NE(slow, nullptr);
  // Shorter than the lease timeout: the paused worker stays in the barrier.
  slow->Signal(SIGSTOP);
  absl::SleepFor(absl::Seconds(1));
  const int64_t held_at = Info(**cluster, 0).version();
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(Info(**cluster, 0).version(), held_at)
      << "the slowest clock cannot move while its worker is paused";
  slow->Signal(SIGCONT);

  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  EXPECT_EQ(status->expired_leases(), 0);
  for (int shard = 0; shard < 2; ++shard) {
    const v1::ServerInfoResponse info = Info(**cluster, shard);
    std::cout << "ssp: shard " << shard << " largest lead " << info.max_lead()
              << std::endl;
    EXPECT_LE(info.max_lead(), kStaleness) << "shard " << shard;
    EXPECT_EQ(info.max_lead(), kStaleness)
        << "shard " << shard << ": the bound was never reached";
  }

  auto fault_free =
      testing::FaultFreeRun(testing::FaultJob("ssp", "ssp\n  staleness: 2"));
  ASSERT_TRUE(fault_free.ok()) << fault_free.status();
  testing::ExpectQualityNear(*status, *fault_free);
}

}  // namespace
}  // namespace paramd
