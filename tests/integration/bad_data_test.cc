// Bad training data never stops a job by itself: a shard replaced by random
// bytes fails (named with file, line and reason in status) and, per
// data.bad_shards, is left out of the later epochs while the job finishes,
// or fails the job with that reason and every worker stops cleanly; with
// data.bad_lines: skip, its malformed lines are skipped and the rest
// trained. A shard changed after `paramctl partition` wrote it fails its
// manifest check. A job with no trainer left says so in status.
#include <signal.h>

#include <fstream>
#include <optional>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"
#include "tools/partitioner.h"
#include "tools/status_format.h"

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
data: {train: $DIR/train-*.svm, bad_lines: LINES, bad_shards: SHARDS}
model: {type: logreg}
optimizer: {kind: sgd, learning_rate: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";

// Writes the job's shards, then spoils shard 2: random bytes (bad_lines:
// fail) or a few malformed lines among good ones (skip).
TestClusterOptions Job(const std::string& bad_lines,
                       const std::string& bad_shards = "skip") {
  TestClusterOptions options;
  options.config_yaml = absl::StrReplaceAll(
      kConfig, {{"LINES", bad_lines}, {"SHARDS", bad_shards}});
  options.num_workers = 2;
  options.write_data = [bad_lines](const std::string& dir) {
    testing::WriteSeparableData(dir, kShards, 200, /*eval_count=*/0,
                                /*seed=*/5);
    std::ofstream out(dir + "/train-00002.svm", std::ios::binary);
    if (bad_lines == "fail") {
      std::mt19937 rng(9);
      for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(rng()));
    } else {
      out << "1 3:1\nnot a line\n0 4:1\n\xff\xfe garbage\n1 3:0.5\n";
    }
  };
  return options;
}

// Expects every worker still running or exited 0 within `timeout`: bad data
// is not a worker's fault.
void ExpectWorkersUnharmed(TestCluster& cluster, absl::Duration timeout) {
  for (const auto& worker : cluster.cluster().workers()) {
    const std::optional<int> code = worker->Wait(timeout);
    EXPECT_TRUE(!code.has_value() || *code == 0) << worker->log_path();
  }
}

TEST(BadDataTest, AnUnreadableShardIsSkippedForTheRestOfTheJob) {
  auto cluster = TestCluster::Start(Job("fail"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->epochs_status_size(), 2);
  for (const v1::EpochStatus& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), kShards);
    EXPECT_EQ(epoch.failed(), 1);
    EXPECT_EQ(epoch.examples(), (kShards - 1) * 200u);
  }
  // Read once: in the second epoch it is not leased at all.
  EXPECT_EQ(status->epochs_status(0).completions(), kShards);
  EXPECT_EQ(status->epochs_status(1).completions(), kShards - 1);
  ASSERT_EQ(status->failed_shards_size(), 1);
  const v1::ShardFailure& failure = status->failed_shards(0);
  EXPECT_EQ(failure.shard(), 2);
  EXPECT_TRUE(failure.skipped());
  EXPECT_TRUE(absl::EndsWith(failure.path(), "train-00002.svm"));
  EXPECT_TRUE(absl::StrContains(failure.error(), "train-00002.svm:"))
      << failure.error();
  EXPECT_EQ(failure.error().find('\xff'), std::string::npos)
      << "raw bytes in the message: " << failure.error();
  EXPECT_TRUE(status->failure().empty());
  ExpectWorkersUnharmed(**cluster, absl::Seconds(20));
}

// The data partitioned (with a manifest), then one shard's bytes changed
// after: that shard fails its check; the others train.
TEST(BadDataTest, AShardThatNoLongerMatchesItsManifestFails) {
  TestClusterOptions options = Job("skip");
  options.config_yaml = absl::StrReplaceAll(
      options.config_yaml, {{"$DIR/train-*.svm", "$DIR/parts/part-*.svm"}});
  options.write_data = [](const std::string& dir) {
    testing::WriteSeparableData(dir, 1, 800, /*eval_count=*/0, /*seed=*/5);
    PartitionOptions partition;
    partition.inputs = {dir + "/train-00000.svm"};
    partition.out_dir = dir + "/parts";
    partition.num_shards = kShards;
    partition.by = "round_robin";
    ASSERT_TRUE(Partition(partition).ok());
    std::fstream shard(dir + "/parts/part-00002.svm",
                       std::ios::in | std::ios::out | std::ios::binary);
    const char first = static_cast<char>(shard.get());
    shard.seekp(0);
    shard.put(first == '0' ? '1' : '0');  // a label flipped
  };
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->failed_shards_size(), 1);
  const v1::ShardFailure& failure = status->failed_shards(0);
  EXPECT_EQ(failure.shard(), 2);
  EXPECT_TRUE(absl::StrContains(
      failure.error(), "part-00002.svm: does not match paramd-manifest.json ("))
      << failure.error();
  for (const v1::EpochStatus& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.examples(), (kShards - 1) * 200u);
  }
}

TEST(BadDataTest, UnderTheFailPolicyABadShardFailsTheJobWithItsError) {
  auto cluster = TestCluster::Start(Job("fail", "fail"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto failed = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) { return !s.failure().empty(); },
      absl::Seconds(60));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_TRUE(absl::StartsWith(failed->failure(),
                               "shard 2 of epoch 1 cannot be read: "))
      << failed->failure();
  EXPECT_TRUE(absl::StrContains(failed->failure(), "train-00002.svm:"))
      << failed->failure();
  EXPECT_FALSE(failed->done());
  EXPECT_TRUE(absl::StrContains(StatusTable(*failed), "JOB FAILED"));
  // Every worker stops, cleanly: the job failed, not the worker.
  for (const auto& worker : (*cluster)->cluster().workers()) {
    EXPECT_EQ(worker->Wait(absl::Seconds(20)), 0) << worker->log_path();
    EXPECT_TRUE(absl::StrContains(testing::ReadFileOrEmpty(worker->log_path()),
                                  "the job failed: shard 2"))
        << worker->log_path();
  }
}

// Both trainers are killed for good: once their leases lapse, status says
// the job waits for a trainer (rather than nothing), and a new trainer
// finishes the job.
TEST(BadDataTest, AJobWithNoTrainerLeftSaysSoAndGoesOnWithANewOne) {
  TestClusterOptions options = Job("fail");
  options.config_yaml = absl::StrReplaceAll(
      options.config_yaml, {{"lease_timeout_s: 10", "lease_timeout_s: 2"},
                            {"batch_size: 16", "batch_size: 1"}});
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto training = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) { return s.leases_size() > 0; },
      absl::Seconds(60));
  ASSERT_TRUE(training.ok()) << training.status();
  EXPECT_TRUE(training->stalled().empty()) << training->stalled();
  for (Subprocess* trainer : (*cluster)->cluster().trainers()) {
    trainer->Signal(SIGKILL);
  }
  auto stalled = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) { return !s.stalled().empty(); },
      absl::Seconds(30));
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  EXPECT_TRUE(absl::StartsWith(stalled->stalled(), "no live trainer: "))
      << stalled->stalled();
  EXPECT_TRUE(absl::StrContains(StatusTable(*stalled), "STALLED"));

  ASSERT_TRUE((*cluster)->cluster().AddWorker("trainer").ok());
  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->stalled().empty());
  for (const v1::EpochStatus& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), kShards);
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
