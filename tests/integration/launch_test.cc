// `paramctl launch` end to end: it starts the cluster the YAML describes,
// reports progress, stops every process and writes the summary, metrics CSV
// and curves; a bad config makes it fail naming the field, and so does a
// job that fails on a bad shard.
#include <algorithm>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

constexpr char kConfig[] = R"(
job: {name: launch-logreg, epochs: 2, batch_size: 16, eval_interval_s: 1}
cluster: {num_servers: 2, num_workers: 2}
data: {train: train-*.svm, eval: eval.svm}
model: {type: logreg}
optimizer: {kind: adagrad, learning_rate: 0.5, initial_accumulator: 0.1}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";

// Runs paramctl with `args`; returns its exit status, output in *output.
int RunParamctl(const std::vector<std::string>& args, const std::string& log,
                std::string* output) {
  std::vector<std::string> argv = {std::string(PARAMD_BIN_DIR) + "/paramctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = Subprocess::Start(argv, log);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return -1;
  const int code = (*process)->Wait(absl::Seconds(120)).value_or(-1);
  *output = testing::ReadFileOrEmpty(log);
  return code;
}

// Runs `paramctl launch` on dir/job.yaml with its run folder and summary in
// `dir`; returns its exit status, output in *output.
int LaunchIn(const std::string& dir, std::string* output) {
  return RunParamctl({"launch", dir + "/job.yaml", "--run_dir=" + dir + "/run",
                      "--summary=" + dir + "/summary.json"},
                     dir + "/paramctl.log", output);
}

TEST(LaunchTest, RunsTheJobAndWritesSummaryMetricsAndCurves) {
  const std::string dir = ::testing::TempDir() + "/launch";
  std::filesystem::create_directories(dir);
  testing::WriteSeparableData(dir, /*num_shards=*/4, /*per_shard=*/200,
                              /*eval_count=*/200, /*seed=*/5);
  testing::WriteFileOrDie(dir + "/job.yaml", kConfig);
  std::string output;
  const int code = LaunchIn(dir, &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("epoch 2/2 | shards 4/4"), std::string::npos) << output;
  const std::string summary = testing::ReadFileOrEmpty(dir + "/summary.json");
  EXPECT_NE(summary.find("\"done\": true"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"eval_final\": true"), std::string::npos);
  EXPECT_NE(summary.find("\"eval_accuracy\""), std::string::npos);
  EXPECT_NE(summary.find("\"shards_completed\": 4, \"completions\": 4"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("\"failed_processes\": []"), std::string::npos)
      << summary;
  const std::string csv = testing::ReadFileOrEmpty(dir + "/run/metrics.csv");
  EXPECT_EQ(csv.rfind("time_s,examples,epoch,train_loss", 0), 0u) << csv;
  EXPECT_GT(std::count(csv.begin(), csv.end(), '\n'), 1);
  EXPECT_TRUE(std::filesystem::exists(dir + "/run/curves.png"));
  // Every daemon was stopped: each log ends with its shutdown line.
  for (const char* log : {"coordinator.log", "ps0.log", "ps1.log"}) {
    EXPECT_NE(
        testing::ReadFileOrEmpty(dir + "/run/" + log).find("shutting down"),
        std::string::npos)
        << log;
  }
}

TEST(LaunchTest, BadConfigFailsNamingTheField) {
  const std::string dir = ::testing::TempDir() + "/launch-bad";
  std::filesystem::create_directories(dir);
  testing::WriteFileOrDie(dir + "/job.yaml",
                          "job: {name: x, batch_size: 0}\ndata: {train: a}\n"
                          "model: {type: logreg}\ntables: []\n");
  std::string output;
  EXPECT_EQ(
      RunParamctl({"launch", dir + "/job.yaml"}, dir + "/out.log", &output), 2);
  EXPECT_NE(output.find("job.yaml:1: job.batch_size: must be positive"),
            std::string::npos)
      << output;
}

TEST(LaunchTest, AJobFailedByABadShardFailsNamingTheFileAndLine) {
  const std::string dir = ::testing::TempDir() + "/launch-bad-shard";
  std::filesystem::create_directories(dir);
  testing::WriteSeparableData(dir, /*num_shards=*/4, /*per_shard=*/200,
                              /*eval_count=*/200, /*seed=*/5);
  testing::WriteFileOrDie(dir + "/train-00001.svm", "1 3:1\n0 4:x\n");
  std::string config = kConfig;
  config.replace(config.find("eval: eval.svm"), 14,
                 "eval: eval.svm, bad_shards: fail");
  testing::WriteFileOrDie(dir + "/job.yaml", config);
  std::string output;
  const int code = LaunchIn(dir, &output);
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find("the job failed: shard 1 of epoch 1 cannot be read: "),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("/train-00001.svm:2: feature 1 '4:x'"),
            std::string::npos)
      << output;
  const std::string summary = testing::ReadFileOrEmpty(dir + "/summary.json");
  EXPECT_NE(summary.find("\"job_failure\": \"shard 1 of epoch 1"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("\"failed_shards\": [{\"epoch\":0,\"shard\":1"),
            std::string::npos)
      << summary;
}

}  // namespace
}  // namespace paramd
