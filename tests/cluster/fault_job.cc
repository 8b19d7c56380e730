#include "tests/cluster/fault_job.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"

namespace paramd {
namespace testing {

namespace v1 = ::paramd::v1;

TestClusterOptions FaultJob(const std::string& name,
                            const std::string& consistency) {
  TestClusterOptions options;
  options.config_yaml =
      absl::StrReplaceAll(R"(
job:
  name: NAME
  consistency: CONSISTENCY
  epochs: 2
  batch_size: 1
  lease_timeout_s: 2
  heartbeat_interval_s: 0.25
  eval_interval_s: 0
cluster:
  num_servers: 2
data:
  train: $DIR/train-*.svm
  eval: $DIR/eval.svm
model:
  type: logreg
optimizer: {kind: sgd, learning_rate: 0.05}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
checkpoint:
  dir: $DIR/ckpt
  every_steps: 300
  keep: 3
)",
                          {{"NAME", name}, {"CONSISTENCY", consistency}});
  options.num_workers = 2;
  options.evaluator = true;
  options.write_data = [](const std::string& dir) {
    WriteSeparableData(dir, kFaultShards, kFaultPerShard, /*eval_count=*/300,
                       /*seed=*/11);
  };
  return options;
}

void ExpectExactLedger(const v1::GetStatusResponse& status, int epochs) {
  EXPECT_TRUE(status.done());
  ASSERT_EQ(status.epochs_status_size(), epochs);
  for (const v1::EpochStatus& epoch : status.epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), kFaultShards) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.completions(), kFaultShards) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.examples(),
              static_cast<uint64_t>(kFaultShards) * kFaultPerShard)
        << "epoch " << epoch.epoch();
  }
}

absl::StatusOr<v1::GetStatusResponse> FaultFreeRun(
    const TestClusterOptions& options) {
  auto cluster = TestCluster::Start(options);
  if (!cluster.ok()) return cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  // Without faults no step is ever refused as not due (half applied).
  const int servers = static_cast<int>((*cluster)->cluster().servers().size());
  for (int shard = 0; status.ok() && shard < servers; ++shard) {
    auto info = (*cluster)->ServerInfo(shard);
    EXPECT_TRUE(info.ok()) << info.status();
    if (info.ok()) {
      EXPECT_EQ(info->not_due_pushes(), 0) << "shard " << shard;
    }
  }
  return status;
}

void ExpectQualityNear(const v1::GetStatusResponse& faulted,
                       const v1::GetStatusResponse& fault_free) {
  ASSERT_TRUE(faulted.eval_final());
  ASSERT_TRUE(fault_free.eval_final());
  const double loss = faulted.eval().at("eval_loss");
  const double free_loss = fault_free.eval().at("eval_loss");
  EXPECT_NEAR(loss, free_loss, 0.35 * free_loss + 0.02);
  EXPECT_NEAR(faulted.eval().at("eval_accuracy"),
              fault_free.eval().at("eval_accuracy"), 0.02);
  std::cout << "quality: eval loss " << loss << " (fault-free " << free_loss
            << "), accuracy " << faulted.eval().at("eval_accuracy")
            << " (fault-free " << fault_free.eval().at("eval_accuracy") << ")"
            << std::endl;
}

Subprocess* ProcessOf(TestCluster& cluster, const v1::GetStatusResponse& status,
                      uint64_t worker_id) {
  int pid = 0;
  for (const v1::WorkerStatus& w : status.workers()) {
    if (w.worker_id() != worker_id) continue;
    std::vector<std::string> parts = absl::StrSplit(w.host(), ':');
    if (!absl::SimpleAtoi(parts.back(), &pid)) return nullptr;
  }
  for (const auto& worker : cluster.cluster().workers()) {
    if (worker->pid() == pid) return worker.get();
  }
  return nullptr;
}

}  // namespace testing
}  // namespace paramd
