// A worker SIGSTOPped mid-shard: its lease expires and its shard goes to
// another worker; the bsp barrier shrinks to the live workers, and grows
// again when a worker started later joins the running job. Resumed with
// SIGCONT, the stopped worker finds its lease revoked, drops the shard
// cleanly and carries on with a new lease.
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

// Workers in shard 0's barrier.
std::set<uint64_t> Barrier(TestCluster& cluster) {
  absl::StatusOr<v1::ServerInfoResponse> info = cluster.ServerInfo(0);
  if (!info.ok()) return {};
  return {info->barrier_workers().begin(), info->barrier_workers().end()};
}

bool Alive(const v1::GetStatusResponse& s, uint64_t worker) {
  for (const auto& w : s.workers()) {
    if (w.worker_id() == worker) return w.alive();
  }
  return false;
}

TEST(WorkerHangTest, StoppedWorkerLosesItsLeaseAndALateWorkerJoins) {
  auto cluster = TestCluster::Start(testing::FaultJob("worker-hang"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto leased = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.leases_size() == 2 && s.examples() > 100;
      },
      absl::Seconds(60));
  ASSERT_TRUE(leased.ok()) << leased.status();
  const v1::LeaseStatus victim = leased->leases(0);
  Subprocess* process =
      testing::ProcessOf(**cluster, *leased, victim.worker_id());
  ASSERT_NE(process, nullptr);
  const absl::Time stopped = absl::Now();
  process->Signal(SIGSTOP);

  // The lease expires, the shard moves on, the barrier shrinks.
  auto moved = (*cluster)->WaitFor(
      [&](const v1::GetStatusResponse& s) {
        if (Alive(s, victim.worker_id())) return false;
        for (const auto& lease : s.leases()) {
          if (lease.worker_id() == victim.worker_id()) return false;
        }
        return true;
      },
      absl::Seconds(30));
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_GE(moved->expired_leases(), 1);
  const int64_t version = moved->server_versions(0);
  auto progressing = (*cluster)->WaitFor(
      [&](const v1::GetStatusResponse& s) {
        return s.server_versions(0) > version + 20 || s.done();
      },
      absl::Seconds(30));
  ASSERT_TRUE(progressing.ok()) << progressing.status();
  std::cout << "worker hang: the others went on "
            << absl::FormatDuration(absl::Now() - stopped)
            << " after SIGSTOP (lease timeout 2 s)" << std::endl;
  EXPECT_EQ(Barrier(**cluster).count(victim.worker_id()), 0u);

  // A worker started now joins the running job and the barrier.
  auto late = (*cluster)->cluster().AddWorker("trainer");
  ASSERT_TRUE(late.ok()) << late.status();
  auto joined = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        int trainers = 0;
        for (const auto& w : s.workers()) {
          trainers += w.role() == "trainer" && w.alive();
        }
        return trainers == 2 && s.leases_size() == 2;
      },
      absl::Seconds(30));
  ASSERT_TRUE(joined.ok()) << joined.status();
  // It joins once the server lists it live (within a heartbeat).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Barrier(**cluster).size() < 2 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Barrier(**cluster).size(), 2u);

  process->Signal(SIGCONT);
  auto back = (*cluster)->WaitFor(
      [&](const v1::GetStatusResponse& s) {
        return Alive(s, victim.worker_id());
      },
      absl::Seconds(30));
  ASSERT_TRUE(back.ok()) << "the resumed worker is not heard again: "
                         << back.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  const std::string log = testing::ReadFileOrEmpty(process->log_path());
  EXPECT_TRUE(absl::StrContains(log, "dropped")) << log;
  // It went on training after the refusal (or found the job done).
  const size_t refusal = log.find("dropped");
  EXPECT_TRUE(log.find("training shard", refusal) != std::string::npos ||
              absl::StrContains(log.substr(refusal), "job done"))
      << log;

  auto fault_free = testing::FaultFreeRun(testing::FaultJob("worker-hang"));
  ASSERT_TRUE(fault_free.ok()) << fault_free.status();
  testing::ExpectQualityNear(*status, *fault_free);
}

}  // namespace
}  // namespace paramd
