// A parameter server SIGKILLed mid-training: the workers keep retrying,
// the launcher's supervisor restarts it, it restores the newest valid
// checkpoint (its newest file was damaged meanwhile, so the one before),
// the whole cluster rolls back to that version, and the job finishes with
// an exact ledger and quality near a fault-free run.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <regex>

#include "common/checkpoint_file.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
namespace v1 = ::paramd::v1;

// Whether `log_path` says it removed partial files of `kind`. At least
// one: the SIGKILL may also have cut a write of the daemon's own.
bool LogsRemovedPartialFiles(const std::string& log_path,
                             const std::string& kind) {
  return std::regex_search(
      testing::ReadFileOrEmpty(log_path),
      std::regex("removed [1-9][0-9]* partial " + kind + " file\\(s\\)"));
}

TEST(PsCrashTest, RestartedServerRestoresAndTheClusterRollsBack) {
  const auto options = testing::FaultJob("ps-crash");
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();

  // Wait for two checkpoints, and for training to go on past them.
  auto checkpointed = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        const int n = s.checkpoints_size();
        return n >= 2 && s.server_versions_size() == 2 &&
               s.server_versions(0) > s.checkpoints(n - 1).versions(0) + 10 &&
               !s.done();
      },
      absl::Seconds(90));
  ASSERT_TRUE(checkpointed.ok()) << checkpointed.status();
  const int64_t at_kill = checkpointed->server_versions(0);

  const absl::Time killed = absl::Now();
  std::vector<std::pair<int64_t, std::string>> files;
  auto restarted = (*cluster)->CrashAndRestart(
      (*cluster)->cluster().servers()[1].get(), [&] {
        // Its newest file is cut short, as a crash during a write on a bad
        // disk might leave it.
        files = ListNumberedFiles((*cluster)->dir() + "/ckpt", "shard-1-v",
                                  ".ckpt");
        ASSERT_GE(files.size(), 2u);
        std::filesystem::resize_file(
            files.back().second,
            std::filesystem::file_size(files.back().second) / 2);
      });
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_GE(files.size(), 2u);
  const int64_t newest = files.back().first;
  EXPECT_EQ(*restarted, (std::vector<std::string>{"ps1"}));

  // Training resumes from the rollback version.
  auto resumed = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.generation() == 1 && s.rollbacks_size() == 1 &&
               s.server_versions_size() == 2 &&
               s.server_versions(1) > s.rollbacks(0);
      },
      absl::Seconds(60));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  const int64_t rolled_back_to = resumed->rollbacks(0);
  EXPECT_GT(rolled_back_to, 0) << "restored a checkpoint, not the start";
  EXPECT_LT(rolled_back_to, newest) << "the damaged file was not used";
  EXPECT_EQ(rolled_back_to, files[files.size() - 2].first);
  std::cout << "ps crash: killed at version " << at_kill << ", rolled back to "
            << rolled_back_to << " (" << at_kill - rolled_back_to
            << " rounds lost), training resumed "
            << absl::FormatDuration(absl::Now() - killed)
            << " after the kill (including the 1 s before the restart)"
            << std::endl;

  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  EXPECT_EQ(status->generation(), 1u);

  auto fault_free = testing::FaultFreeRun(testing::FaultJob("ps-crash"));
  ASSERT_TRUE(fault_free.ok()) << fault_free.status();
  testing::ExpectQualityNear(*status, *fault_free);
}

// A server and the coordinator killed between opening a checkpoint's
// temporary file and renaming it leave the partial file behind; each
// removes its own (and only its own) when it starts again, and logs how
// many.
TEST(PsCrashTest, PartialFilesOfKilledWritersAreRemovedAtStart) {
  auto cluster = TestCluster::Start(testing::FaultJob("stale-tmp"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto checkpointed = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) { return s.checkpoints_size() >= 1; },
      absl::Seconds(90));
  ASSERT_TRUE(checkpointed.ok()) << checkpointed.status();
  const std::string ckpt = (*cluster)->dir() + "/ckpt/";
  const std::string ours = ckpt + "shard-0-v999.ckpt.tmp4242";
  const std::string coordinators = ckpt + "coordinator-77.ckpt.tmp4243";
  const std::vector<std::string> others = {
      ckpt + "shard-1-v999.ckpt.tmp4242",  // the running server 1's
      ckpt + "notes.tmp1", ckpt + "shard-0-v999.ckpt.tmp-draft"};
  auto partial = [](const std::string& path) {
    testing::WriteFileOrDie(path, std::string(100, 'x'));
  };
  for (const std::string& path : others) partial(path);

  Subprocess* server = (*cluster)->cluster().servers()[0].get();
  ASSERT_TRUE((*cluster)->CrashAndRestart(server, [&] { partial(ours); }).ok());
  ASSERT_TRUE((*cluster)
                  ->CrashAndRestart((*cluster)->cluster().coordinator(),
                                    [&] { partial(coordinators); })
                  .ok());
  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);

  EXPECT_FALSE(std::filesystem::exists(ours));
  EXPECT_FALSE(std::filesystem::exists(coordinators));
  for (const std::string& path : others) {
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
  }
  EXPECT_TRUE(LogsRemovedPartialFiles(
      (*cluster)->cluster().servers()[0]->log_path(), "checkpoint"));
  EXPECT_TRUE(LogsRemovedPartialFiles(
      (*cluster)->cluster().coordinator()->log_path(), "state"));
}

}  // namespace
}  // namespace paramd
