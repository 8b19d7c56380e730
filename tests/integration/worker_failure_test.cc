// A worker SIGKILLed mid-shard: its lease expires, another worker trains
// the shard, and every shard is still completed exactly once per epoch.
#include <signal.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;
namespace v1 = ::paramd::v1;

constexpr char kConfig[] = R"(
job:
  name: worker-failure
  consistency: bsp
  epochs: 2
  batch_size: 1
  lease_timeout_s: 2
  heartbeat_interval_s: 0.25
cluster:
  num_servers: 2
data:
  train: $DIR/train-*.svm
model:
  type: logreg
optimizer: {kind: sgd, learning_rate: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";

// The pid a worker registered with ("host:pid").
int PidOf(const v1::GetStatusResponse& status, uint64_t worker_id) {
  for (const v1::WorkerStatus& w : status.workers()) {
    if (w.worker_id() != worker_id) continue;
    std::vector<std::string> parts = absl::StrSplit(w.host(), ':');
    int pid = 0;
    if (absl::SimpleAtoi(parts.back(), &pid)) return pid;
  }
  return 0;
}

TEST(WorkerFailureTest, KilledWorkersShardGoesToAnotherAndJobCompletes) {
  TestClusterOptions options;
  options.config_yaml = kConfig;
  options.num_workers = 2;
  // Batch size 1 and 400 examples a shard keep a shard busy long enough to
  // kill its worker mid-way.
  options.write_data = [](const std::string& dir) {
    testing::WriteSeparableData(dir, /*num_shards=*/6, /*per_shard=*/400,
                                /*eval_count=*/10, /*seed=*/3);
  };
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();

  // Wait until some worker holds a lease and has trained a little.
  auto leased = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.leases_size() > 0 && s.examples() > 0;
      },
      absl::Seconds(60));
  ASSERT_TRUE(leased.ok()) << leased.status();
  const v1::LeaseStatus victim = leased->leases(0);
  const int pid = PidOf(*leased, victim.worker_id());
  ASSERT_GT(pid, 0);
  Subprocess* process = nullptr;
  for (const auto& worker : (*cluster)->cluster().workers()) {
    if (worker->pid() == pid) process = worker.get();
  }
  ASSERT_NE(process, nullptr);
  process->Signal(SIGKILL);

  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_GE(status->expired_leases(), 1);
  ASSERT_EQ(status->epochs_status_size(), 2);
  for (const auto& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), 6) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.completions(), 6) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.examples(), 6u * 400) << "epoch " << epoch.epoch();
  }
  bool victim_dead = false;
  for (const auto& w : status->workers()) {
    if (w.worker_id() == victim.worker_id()) victim_dead = !w.alive();
  }
  EXPECT_TRUE(victim_dead);
}

}  // namespace
}  // namespace paramd
