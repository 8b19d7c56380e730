// Bad training data never stops a job: a shard replaced by random bytes
// fails for the epoch (named with file, line and reason in status) and the
// job finishes; with data.bad_lines: skip, its malformed lines are skipped
// and the rest trained.
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;
namespace v1 = ::paramd::v1;

constexpr int kShards = 4;

constexpr char kConfig[] = R"(
job: {name: bad-data, consistency: bsp, epochs: 2, batch_size: 16,
      lease_timeout_s: 10, heartbeat_interval_s: 0.5}
cluster: {num_servers: 1}
data: {train: $DIR/train-*.svm, bad_lines: POLICY}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";

// Writes the job's shards, then spoils shard 2: random bytes (fail) or a
// few malformed lines among good ones (skip).
TestClusterOptions Job(const std::string& policy) {
  TestClusterOptions options;
  options.config_yaml = absl::StrReplaceAll(kConfig, {{"POLICY", policy}});
  options.num_workers = 2;
  options.write_data = [policy](const std::string& dir) {
    testing::WriteSeparableData(dir, kShards, 200, /*eval_count=*/0,
                                /*seed=*/5);
    std::ofstream out(dir + "/train-00002.svm", std::ios::binary);
    if (policy == "fail") {
      std::mt19937 rng(9);
      for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(rng()));
    } else {
      out << "1 3:1\nnot a line\n0 4:1\n\xff\xfe garbage\n1 3:0.5\n";
    }
  };
  return options;
}

TEST(BadDataTest, AnUnreadableShardFailsForTheEpochAndTheJobFinishes) {
  auto cluster = TestCluster::Start(Job("fail"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->epochs_status_size(), 2);
  for (const v1::EpochStatus& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), kShards);
    EXPECT_EQ(epoch.completions(), kShards);
    EXPECT_EQ(epoch.failed(), 1);
  }
  ASSERT_EQ(status->failed_shards_size(), 2);  // once per epoch
  const v1::ShardFailure& failure = status->failed_shards(0);
  EXPECT_EQ(failure.shard(), 2);
  EXPECT_TRUE(absl::EndsWith(failure.path(), "train-00002.svm"));
  EXPECT_TRUE(absl::StrContains(failure.error(), "train-00002.svm:"))
      << failure.error();
  EXPECT_EQ(failure.error().find('\xff'), std::string::npos)
      << "raw bytes in the message: " << failure.error();
  // Both trainers are still there: bad data is not a worker's fault.
  for (const auto& worker : (*cluster)->cluster().workers()) {
    EXPECT_FALSE(worker->Poll().has_value() && *worker->Poll() != 0)
        << worker->log_path();
  }
}

TEST(BadDataTest, SkipPolicyTrainsTheGoodLinesOfABadShard) {
  auto cluster = TestCluster::Start(Job("skip"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->failed_shards_size(), 0);
  for (const v1::EpochStatus& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), kShards);
    EXPECT_EQ(epoch.failed(), 0);
    EXPECT_EQ(epoch.examples(), (kShards - 1) * 200u + 3);
  }
}

}  // namespace
}  // namespace paramd
