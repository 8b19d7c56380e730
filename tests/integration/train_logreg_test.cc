// End to end: logistic regression with 2 parameter servers, 2 trainers and
// an evaluator, all real daemons.
#include <memory>

#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;

constexpr char kConfig[] = R"(
job:
  name: separable-logreg
  consistency: CONSISTENCY
  epochs: 3
  batch_size: 16
  lease_timeout_s: 10
  heartbeat_interval_s: 0.5
  eval_interval_s: 1
cluster:
  num_servers: 2
data:
  train: $DIR/train-*.svm
  eval: $DIR/eval.svm
model:
  type: logreg
optimizer:
  kind: adagrad
  learning_rate: 0.5
  initial_accumulator: 0.1
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";

class LogregClusterTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LogregClusterTest, LearnsSeparableDataTrainingEachShardOncePerEpoch) {
  TestClusterOptions options;
  options.config_yaml = kConfig;
  options.config_yaml.replace(options.config_yaml.find("CONSISTENCY"), 11,
                              GetParam());
  options.num_workers = 2;
  options.evaluator = true;
  options.write_data = [](const std::string& dir) {
    testing::WriteSeparableData(dir, /*num_shards=*/8, /*per_shard=*/300,
                                /*eval_count=*/500, /*seed=*/7);
  };
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(120));
  ASSERT_TRUE(status.ok()) << status.status();

  EXPECT_TRUE(status->eval_final());
  EXPECT_GE(status->eval().at("eval_accuracy"), 0.95);
  ASSERT_EQ(status->epochs_status_size(), 3);
  for (const auto& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.shards_done(), 8) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.completions(), 8) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.examples(), 8u * 300) << "epoch " << epoch.epoch();
  }
  int trainers = 0;
  for (const auto& worker : status->workers()) {
    trainers += worker.role() == "trainer";
  }
  EXPECT_EQ(trainers, 2);
}

INSTANTIATE_TEST_SUITE_P(Consistency, LogregClusterTest,
                         ::testing::Values("bsp", "asp"));

}  // namespace
}  // namespace paramd
