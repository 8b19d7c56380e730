// `paramctl launch` end to end: it starts the cluster the YAML describes,
// reports progress, stops every process and writes the summary, metrics CSV,
// curves, checkpoints and the final model; an interrupted run resumes from
// its run folder; a bad config makes it fail naming the field, and so does
// a job that fails on a bad shard.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/synthetic_data.h"
#include "tests/cluster/test_cluster.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

using ::paramd::testing::RunParamctl;

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

// A fresh folder for one test, named as paramctl prints it.
std::string TestDir(const std::string& name) {
  const std::string dir =
      std::filesystem::path(::testing::TempDir() + "/" + name)
          .lexically_normal()
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs `paramctl launch` on dir/job.yaml with its run folder and summary in
// `dir`; returns its exit status, output in *output.
int LaunchIn(const std::string& dir, std::string* output) {
  return RunParamctl({"launch", dir + "/job.yaml", "--run_dir=" + dir + "/run",
                      "--summary=" + dir + "/summary.json"},
                     dir + "/paramctl.log", output);
}

TEST(LaunchTest, RunsTheJobAndWritesSummaryMetricsAndCurves) {
  const std::string dir = TestDir("launch");
  testing::WriteSeparableData(dir, /*num_shards=*/4, /*per_shard=*/200,
                              /*eval_count=*/200, /*seed=*/5);
  testing::WriteFileOrDie(dir + "/job.yaml", kConfig);
  std::string output;
  const int code = LaunchIn(dir, &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("100% | epoch 2/2 | shards 4/4 | "), std::string::npos)
      << output;
  EXPECT_NE(output.find(" (after epoch 2) | done\n"), std::string::npos)
      << output;
  EXPECT_NE(output.find("checkpoints in " + dir + "/run/checkpoints"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("model: " + dir + "/run/model\n"), std::string::npos)
      << output;
  const std::string summary = testing::ReadFileOrEmpty(dir + "/summary.json");
  EXPECT_NE(summary.find("\"done\": true"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"eval_final\": true"), std::string::npos);
  EXPECT_NE(summary.find("\"eval_accuracy\""), std::string::npos);
  EXPECT_NE(summary.find("\"shards_completed\": 4, \"completions\": 4"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("\"failed_processes\": []"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("\"model\": \"" + dir + "/run/model\""),
            std::string::npos)
      << summary;
  // The final model, as `paramctl export` writes it, and checkpoints.
  for (const char* file : {"index.json", "w.npy", "w.keys.npy", "bias.npy"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/run/model/" + file)) << file;
  }
  bool checkpointed = false;
  for (const auto& entry :
       std::filesystem::directory_iterator(dir + "/run/checkpoints")) {
    checkpointed = checkpointed ||
                   entry.path().filename().string().rfind("shard-0-v", 0) == 0;
  }
  EXPECT_TRUE(checkpointed) << "no checkpoint of shard 0";
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

// The fractional epoch of the last row of a run's metrics.csv (-1 if none).
double LastCsvEpoch(const std::string& csv) {
  std::ifstream in(csv);
  double epoch = -1;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells = absl::StrSplit(line, ',');
    double value = 0;
    if (cells.size() > 2 && absl::SimpleAtod(cells[2], &value)) epoch = value;
  }
  return epoch;
}

TEST(LaunchTest, AnInterruptedRunResumesFromItsFolder) {
  const std::string dir = TestDir("launch-resume");
  testing::WriteSeparableData(dir, /*num_shards=*/4, /*per_shard=*/2000,
                              /*eval_count=*/200, /*seed=*/6);
  std::string config = kConfig;
  config.replace(config.find("epochs: 2"), 9, "epochs: 20");
  testing::WriteFileOrDie(dir + "/job.yaml", config);
  const std::string run = dir + "/run";
  auto launch =
      Subprocess::Start({std::string(PARAMD_BIN_DIR) + "/paramctl", "launch",
                         dir + "/job.yaml", "--run_dir=" + run},
                        dir + "/first.log");
  ASSERT_TRUE(launch.ok()) << launch.status();
  const absl::Time give_up = absl::Now() + absl::Seconds(90);
  while (LastCsvEpoch(run + "/metrics.csv") < 2 && absl::Now() < give_up &&
         !(*launch)->Poll()) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_GE(LastCsvEpoch(run + "/metrics.csv"), 2)
      << testing::ReadFileOrEmpty(dir + "/first.log");
  (*launch)->Signal(SIGINT);
  EXPECT_EQ((*launch)->Wait(absl::Seconds(60)), 1);
  const std::string first = testing::ReadFileOrEmpty(dir + "/first.log");
  EXPECT_NE(first.find("interrupted"), std::string::npos) << first;
  EXPECT_NE(first.find("to go on: paramctl launch --resume " + run),
            std::string::npos)
      << first;
  const double stopped_at = LastCsvEpoch(run + "/metrics.csv");

  std::string output;
  ASSERT_EQ(
      RunParamctl({"launch", "--resume=" + run}, dir + "/resumed.log", &output),
      0)
      << output;
  EXPECT_NE(output.find("resuming job 'launch-logreg'"), std::string::npos)
      << output;
  EXPECT_NE(output.find("100% | epoch 20/20 | shards 4/4 | "),
            std::string::npos)
      << output;
  // It went on from the servers' last checkpoint, not from the start.
  const std::string log = testing::ReadFileOrEmpty(run + "/coordinator.log");
  EXPECT_NE(log.find("restored job progress from " + run +
                     "/checkpoints/coordinator-"),
            std::string::npos)
      << log;
  EXPECT_GE(stopped_at, 2);
  EXPECT_LT(stopped_at, 20);
  // Exactly once per epoch, across the interruption.
  const std::string summary = testing::ReadFileOrEmpty(run + "/summary.json");
  EXPECT_NE(summary.find("\"done\": true"), std::string::npos) << summary;
  for (int epoch = 1; epoch <= 20; ++epoch) {
    EXPECT_NE(summary.find("{\"epoch\": " + std::to_string(epoch) +
                           ", \"shards_completed\": 4, \"completions\": 4,"),
              std::string::npos)
        << "epoch " << epoch << ": " << summary;
  }
  EXPECT_TRUE(std::filesystem::exists(run + "/model/index.json"));
  // The metrics go on in the same file, time still rising.
  std::ifstream csv(run + "/metrics.csv");
  double last_time = -1;
  int headers = 0;
  for (std::string line; std::getline(csv, line);) {
    double time = 0;
    if (line.rfind("time_s,", 0) == 0) ++headers;
    if (!absl::SimpleAtod(line.substr(0, line.find(',')), &time)) continue;
    EXPECT_GE(time, last_time) << line;
    last_time = time;
  }
  EXPECT_EQ(headers, 1);
  // A new launch does not take the folder over.
  EXPECT_EQ(RunParamctl({"launch", dir + "/job.yaml", "--run_dir=" + run},
                        dir + "/again.log", &output),
            2);
  EXPECT_NE(output.find(run +
                        " holds a run already: go on with it with "
                        "--resume=" +
                        run),
            std::string::npos)
      << output;
}

// A killed paramctl does not leave its daemons running (they would keep
// writing the run's checkpoints under the next launch's cluster).
TEST(LaunchTest, AKilledLaunchStopsItsDaemons) {
  const std::string dir = TestDir("launch-killed");
  testing::WriteSeparableData(dir, /*num_shards=*/4, /*per_shard=*/2000,
                              /*eval_count=*/200, /*seed=*/6);
  std::string config = kConfig;
  config.replace(config.find("epochs: 2"), 9, "epochs: 500");
  testing::WriteFileOrDie(dir + "/job.yaml", config);
  const std::string run = dir + "/run";
  auto launch =
      Subprocess::Start({std::string(PARAMD_BIN_DIR) + "/paramctl", "launch",
                         dir + "/job.yaml", "--run_dir=" + run},
                        dir + "/launch.log");
  ASSERT_TRUE(launch.ok()) << launch.status();
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (LastCsvEpoch(run + "/metrics.csv") < 1 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_GE(LastCsvEpoch(run + "/metrics.csv"), 1);
  (*launch)->Signal(SIGKILL);
  EXPECT_EQ((*launch)->Wait(absl::Seconds(10)), 128 + SIGKILL);
  // Each daemon got SIGTERM: it logs its shutdown and exits.
  const std::vector<std::pair<std::string, std::string>> ends = {
      {"coordinator.log", "shutting down"},
      {"ps0.log", "shutting down"},
      {"ps1.log", "shutting down"},
      {"trainer0.log", "exiting"},
      {"trainer1.log", "exiting"}};
  for (const auto& [log, line] : ends) {
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (testing::ReadFileOrEmpty(run + "/" + log).find(line) ==
               std::string::npos &&
           absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    EXPECT_NE(testing::ReadFileOrEmpty(run + "/" + log).find(line),
              std::string::npos)
        << log;
  }
}

TEST(LaunchTest, ResumeNeedsARunThatCanGoOn) {
  const std::string dir = TestDir("launch-resume-bad");
  std::string output;
  EXPECT_EQ(
      RunParamctl({"launch", "--resume=" + dir}, dir + "/none.log", &output),
      2);
  EXPECT_NE(output.find(dir + " is not a run folder of paramctl launch"),
            std::string::npos)
      << output;
  testing::WriteFileOrDie(dir + "/launch.yaml", "config: [1\n");
  EXPECT_EQ(
      RunParamctl({"launch", "--resume=" + dir}, dir + "/damaged.log", &output),
      2);
  EXPECT_NE(output.find(dir + "/launch.yaml:"), std::string::npos) << output;
  // A run that stopped before its first checkpoint would start over.
  testing::WriteFileOrDie(dir + "/job.yaml", kConfig);
  testing::WriteFileOrDie(dir + "/launch.yaml",
                          "config: " + dir + "/job.yaml\nworkers: 1\n" +
                              "checkpoint_dir: " + dir + "/checkpoints\n");
  EXPECT_EQ(
      RunParamctl({"launch", "--resume=" + dir}, dir + "/empty.log", &output),
      2);
  EXPECT_NE(output.find("nothing to resume: " + dir +
                        "/checkpoints holds no job progress"),
            std::string::npos)
      << output;
  // So would one whose YAML now checkpoints elsewhere.
  testing::WriteFileOrDie(dir + "/launch.yaml",
                          "config: " + dir + "/job.yaml\nworkers: 1\n" +
                              "checkpoint_dir: /elsewhere\n");
  EXPECT_EQ(
      RunParamctl({"launch", "--resume=" + dir}, dir + "/moved.log", &output),
      2);
  EXPECT_NE(output.find("the run's checkpoints are in /elsewhere, but its "
                        "YAML (" +
                        dir + "/job.yaml) now puts them in " + dir +
                        "/checkpoints; resuming would start over"),
            std::string::npos)
      << output;
  EXPECT_EQ(RunParamctl({"launch", dir + "/job.yaml", "--resume=" + dir},
                        dir + "/both.log", &output),
            2);
  EXPECT_NE(output.find("launch needs a CONFIG or --resume=RUN_DIR (one of "
                        "them)"),
            std::string::npos)
      << output;
  EXPECT_EQ(RunParamctl({"launch", "--resume=" + dir, "--run_dir=x"},
                        dir + "/run-dir.log", &output),
            2);
  EXPECT_NE(output.find("--run_dir does not go with --resume"),
            std::string::npos)
      << output;
}

// `paramctl partition`, the command around tools/partitioner (tested on its
// own): flags in, shards and a manifest out, bad flags refused.
TEST(PartitionCommandTest, SplitsATsvByKeyAndRefusesBadFlags) {
  const std::string dir = TestDir("partition-command");
  testing::WriteFileOrDie(dir + "/rows.tsv", "a\t1\nb\t2\na\t3\nc\t4\n");
  std::string output;
  ASSERT_EQ(RunParamctl(
                {"partition", "--out=" + dir + "/out", "--shards=2", "--by=key",
                 "--key_column=0", "--delimiter=tab", dir + "/rows.tsv"},
                dir + "/ok.log", &output),
            0)
      << output;
  EXPECT_NE(output.find("wrote 4 records (16 bytes) into 2 shards in " + dir +
                        "/out"),
            std::string::npos)
      << output;
  const std::string a = testing::ReadFileOrEmpty(dir + "/out/part-00000.tsv") +
                        "|" +
                        testing::ReadFileOrEmpty(dir + "/out/part-00001.tsv");
  EXPECT_TRUE(a.find("a\t1\na\t3\n") != std::string::npos) << a;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/paramd-manifest.json"));
  EXPECT_EQ(RunParamctl({"partition", "--out=" + dir + "/out", "--shards=2",
                         "--delimiter=ab", dir + "/rows.tsv"},
                        dir + "/bad.log", &output),
            2);
  EXPECT_NE(output.find("--delimiter must be one character or 'tab', got "
                        "'ab'"),
            std::string::npos)
      << output;
  EXPECT_EQ(RunParamctl({"partition", "--out=" + dir + "/out", "--shards=2",
                         dir + "/nothing.tsv"},
                        dir + "/missing.log", &output),
            1);
  EXPECT_NE(output.find("nothing.tsv: no such file or folder"),
            std::string::npos)
      << output;
}

TEST(LaunchTest, BadConfigFailsNamingTheField) {
  const std::string dir = TestDir("launch-bad");
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
  const std::string dir = TestDir("launch-bad-shard");
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
