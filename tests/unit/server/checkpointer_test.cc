#include "server/checkpointer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/checkpoint_file.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;

paramd::v1::ShardCheckpoint Checkpoint(int64_t version) {
  paramd::v1::ShardCheckpoint checkpoint;
  checkpoint.set_job("ckpt-test");
  checkpoint.set_shard(1);
  checkpoint.set_num_shards(2);
  checkpoint.set_version(version);
  checkpoint.add_tables()->set_name("d");
  checkpoint.mutable_tables(0)->set_values(std::string(400, 'v'));
  return checkpoint;
}

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        (fs::temp_directory_path() /
         absl::StrCat(
             "paramd_checkpointer_", getpid(), "_",
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string File(int64_t version) const {
    return absl::StrCat(dir_, "/",
                        NumberedFileName("shard-1-v", version, ".ckpt"));
  }

  std::string dir_;
};

TEST_F(CheckpointerTest, WritesReadsAndKeepsTheNewest) {
  Checkpointer checkpointer(dir_, 1, /*keep=*/2);
  EXPECT_TRUE(checkpointer.Versions().empty());
  absl::Notification written;
  absl::Status outcome = absl::UnknownError("not called");
  checkpointer.WriteAsync(Checkpoint(3), [&](absl::Status s) {
    outcome = s;
    written.Notify();
  });
  ASSERT_TRUE(written.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(outcome.ok()) << outcome;
  ASSERT_TRUE(checkpointer.Write(Checkpoint(5)).ok());
  ASSERT_TRUE(checkpointer.Write(Checkpoint(8)).ok());
  EXPECT_EQ(checkpointer.Versions(), (std::vector<int64_t>{5, 8}));
  EXPECT_FALSE(fs::exists(File(3)));
  absl::StatusOr<paramd::v1::ShardCheckpoint> read = checkpointer.Read(8);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->SerializeAsString(), Checkpoint(8).SerializeAsString());
  EXPECT_EQ(checkpointer.Read(4).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointerTest, DamagedFilesAreLeftOutAtStartAndOnRead) {
  {
    Checkpointer first(dir_, 1, 5);
    for (int64_t v : {2, 4, 6}) ASSERT_TRUE(first.Write(Checkpoint(v)).ok());
  }
  // Truncate the newest, as a crash mid-write on a bad disk would.
  fs::resize_file(File(6), fs::file_size(File(6)) / 2);
  Checkpointer second(dir_, 1, 5);
  EXPECT_EQ(second.Versions(), (std::vector<int64_t>{2, 4}));
  // Corrupt another after the scan: Read notices and drops it.
  {
    std::fstream f(File(4), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('X');
  }
  absl::StatusOr<paramd::v1::ShardCheckpoint> read = second.Read(4);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(read.status().message(), File(4)))
      << read.status();
  EXPECT_EQ(second.Versions(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(second.Read(2).ok());
}

}  // namespace
}  // namespace paramd
