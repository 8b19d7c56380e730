// The checkpoint folder fills up mid-job (a small tmpfs the test fills): the
// servers report each order they cannot write, the coordinator shows the
// failure in status and orders again within seconds, and once space is
// freed checkpoints are written again and the log says so.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"
#include "tools/status_format.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
namespace v1 = ::paramd::v1;

constexpr int kEpochs = 8;  // long enough to fill and free the disk mid-job

// Writes `path` until the filesystem holding it is full.
void FillDisk(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string chunk(64 << 10, 'x');
  while (write(fd, chunk.data(), chunk.size()) > 0) {
  }
  EXPECT_EQ(errno, ENOSPC) << std::strerror(errno);
  close(fd);
}

TEST(FullDiskTest, CheckpointsFailVisiblyAndResumeOnceSpaceIsFreed) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  // A mount namespace of this process's own: the daemons it starts share it,
  // and the host sees nothing of the mount.
  if (unshare(CLONE_NEWNS) != 0 ||
      mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    GTEST_SKIP() << "cannot make a mount namespace here: "
                 << std::strerror(errno);
  }
  // asp: servers take a checkpoint the moment it is ordered. (Under bsp
  // the order waits for a version that trainers, whose completions cannot
  // be saved on the full disk either, stop short of.)
  auto options = testing::FaultJob("full-disk", "asp");
  options.config_yaml = absl::StrReplaceAll(
      options.config_yaml,
      {{"every_steps: 300", "every_s: 1"}, {"epochs: 2", "epochs: 8"}});
  const auto write_data = options.write_data;
  options.write_data = [write_data](const std::string& dir) {
    write_data(dir);
    const std::string ckpt = dir + "/ckpt";
    std::filesystem::create_directories(ckpt);
    ASSERT_EQ(mount("paramd-test", ckpt.c_str(), "tmpfs", 0, "size=8m"), 0)
        << std::strerror(errno);
  };
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto written = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) { return s.checkpoints_size() >= 2; },
      absl::Seconds(60));
  ASSERT_TRUE(written.ok()) << written.status();

  const std::string filler = (*cluster)->dir() + "/ckpt/filler";
  FillDisk(filler);
  const absl::Time filled = absl::Now();
  // Reported, and ordered again within seconds (not after 2 minutes).
  auto failing = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.checkpoint_failure().failures_in_a_row() >= 2;
      },
      absl::Seconds(20));
  ASSERT_TRUE(failing.ok()) << failing.status();
  EXPECT_FALSE(failing->done()) << "the job ended before the test could";
  std::cout << "2 failed orders reported "
            << absl::FormatDuration(absl::Now() - filled)
            << " after the disk filled" << std::endl;
  EXPECT_TRUE(absl::StrContains(failing->checkpoint_failure().error(),
                                "No space left on device"))
      << failing->checkpoint_failure().error();
  EXPECT_TRUE(absl::StrContains(StatusTable(*failing), "FAILING"))
      << StatusTable(*failing);
  // The coordinator's journal may still take its small appends in the
  // room its last page has left; if its writes failed too, it says why.
  const bool state_failed = !failing->state_error().empty();
  if (state_failed) {
    EXPECT_TRUE(
        absl::StrContains(failing->state_error(), "No space left on device"))
        << failing->state_error();
  }
  const uint64_t last_good =
      failing->checkpoints(failing->checkpoints_size() - 1).id();

  std::filesystem::remove(filler);
  const absl::Time freed = absl::Now();
  auto recovered = (*cluster)->WaitFor(
      [last_good](const v1::GetStatusResponse& s) {
        return s.checkpoints(s.checkpoints_size() - 1).id() > last_good &&
               s.checkpoint_failure().failures_in_a_row() == 0 &&
               s.state_error().empty();
      },
      absl::Seconds(30));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  std::cout << "a checkpoint was written "
            << absl::FormatDuration(absl::Now() - freed)
            << " after space was freed, after "
            << failing->checkpoint_failure().failures_in_a_row()
            << "+ failed orders" << std::endl;
  EXPECT_TRUE(absl::StrContains(StatusTable(*recovered), "recovered"));

  auto status = (*cluster)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status, kEpochs);
  const std::string coordinator_log =
      testing::ReadFileOrEmpty((*cluster)->cluster().coordinator()->log_path());
  EXPECT_TRUE(absl::StrContains(coordinator_log, "checkpointing recovered"));
  if (state_failed) {
    EXPECT_TRUE(absl::StrContains(coordinator_log, "job progress saved again"));
  }
  EXPECT_TRUE(absl::StrContains(
      testing::ReadFileOrEmpty((*cluster)->cluster().servers()[0]->log_path()),
      "checkpoint not written"));
  // The job's end is stopped by the destructor; the mount goes with this
  // process's namespace.
}

}  // namespace
}  // namespace paramd
