#include "server/coordinator_state.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/checkpoint_file.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

v1::Completion Done(int32_t shard) {
  v1::Completion done;
  done.set_shard(shard);
  done.set_examples(10);
  return done;
}

std::vector<int32_t> Shards(const v1::CoordinatorState& state) {
  std::vector<int32_t> shards;
  for (const v1::Completion& done : state.completions()) {
    shards.push_back(done.shard());
  }
  return shards;
}

// A change keeping `kept` completions, adding those of `shards`.
v1::CoordinatorStateChange Change(uint64_t kept,
                                  const std::vector<int32_t>& shards,
                                  uint64_t generation = 0) {
  v1::CoordinatorStateChange change;
  change.set_completions_kept(kept);
  change.mutable_state()->set_job("job");
  change.mutable_state()->set_generation(generation);
  for (int32_t shard : shards)
    *change.mutable_state()->add_completions() = Done(shard);
  return change;
}

class CoordinatorStateFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/coordinator_state_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::optional<v1::CoordinatorState> Load() {
    CoordinatorStateFiles files(dir_, "job", 2);
    return files.LoadNewest(
        [](const v1::CoordinatorState&) { return absl::OkStatus(); });
  }

  v1::CoordinatorState Snapshot(const std::vector<int32_t>& shards) {
    v1::CoordinatorState state;
    state.set_job("job");
    for (int32_t shard : shards) *state.add_completions() = Done(shard);
    return state;
  }

  std::string dir_;
};

TEST_F(CoordinatorStateFilesTest, ChangesReplayOntoTheSnapshot) {
  CoordinatorStateFiles files(dir_, "job", 2);
  EXPECT_TRUE(files.WantsSnapshot());
  ASSERT_TRUE(files.Write(Snapshot({0, 1})).ok());
  EXPECT_FALSE(files.WantsSnapshot());
  ASSERT_TRUE(files.Append(Change(2, {2})).ok());
  // A rollback keeps only the first completion, then two more come.
  ASSERT_TRUE(files.Append(Change(1, {5, 6}, /*generation=*/7)).ok());
  std::optional<v1::CoordinatorState> state = Load();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(Shards(*state), (std::vector<int32_t>{0, 5, 6}));
  EXPECT_EQ(state->generation(), 7u);
}

TEST_F(CoordinatorStateFilesTest, AJournalOutgrowingItsSnapshotAsksForOne) {
  CoordinatorStateFiles files(dir_, "job", 2, /*min_journal_bytes=*/200);
  ASSERT_TRUE(files.Write(Snapshot({})).ok());
  std::vector<int32_t> all;
  int appended = 0;
  while (!files.WantsSnapshot()) {
    ASSERT_TRUE(files.Append(Change(all.size(), {appended})).ok());
    all.push_back(appended++);
  }
  EXPECT_GT(appended, 3);
  ASSERT_TRUE(files.Write(Snapshot(all)).ok());
  EXPECT_FALSE(files.WantsSnapshot());
  ASSERT_TRUE(files.Append(Change(all.size(), {99})).ok());
  all.push_back(99);
  std::optional<v1::CoordinatorState> state = Load();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(Shards(*state), all);
  // Two snapshots, each with its journal; a third prunes the first pair.
  ASSERT_TRUE(files.Write(Snapshot(all)).ok());
  EXPECT_EQ(ListNumberedFiles(dir_, "coordinator-", ".ckpt").size(), 2u);
  EXPECT_EQ(ListNumberedFiles(dir_, "coordinator-", ".journal").size(), 2u);
}

TEST_F(CoordinatorStateFilesTest, ReplayStopsAtADamagedRecord) {
  CoordinatorStateFiles files(dir_, "job", 2);
  ASSERT_TRUE(files.Write(Snapshot({0})).ok());
  ASSERT_TRUE(files.Append(Change(1, {1})).ok());
  const auto journal =
      ListNumberedFiles(dir_, "coordinator-", ".journal").back().second;
  const auto whole_one = std::filesystem::file_size(journal);
  ASSERT_TRUE(files.Append(Change(2, {2})).ok());
  ASSERT_TRUE(files.Append(Change(3, {3})).ok());
  {
    // Flip a byte in the second record's payload.
    std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(whole_one + 9));
    f.put('\x7f');
  }
  std::optional<v1::CoordinatorState> state = Load();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(Shards(*state), (std::vector<int32_t>{0, 1}));
}

TEST_F(CoordinatorStateFilesTest, AJournalRemovedWhileOpenFailsTheSave) {
  CoordinatorStateFiles files(dir_, "job", 2);
  ASSERT_TRUE(files.Write(Snapshot({0})).ok());
  std::filesystem::remove(
      ListNumberedFiles(dir_, "coordinator-", ".journal").back().second);
  absl::Status saved = files.Append(Change(1, {1}));
  EXPECT_EQ(saved.code(), absl::StatusCode::kUnavailable) << saved;
  EXPECT_NE(saved.message().find("removed"), std::string::npos) << saved;
  // The next save is a whole snapshot, which starts a journal again.
  EXPECT_TRUE(files.WantsSnapshot());
  ASSERT_TRUE(files.Write(Snapshot({0, 1})).ok());
  ASSERT_TRUE(files.Append(Change(2, {2})).ok());
  std::optional<v1::CoordinatorState> state = Load();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(Shards(*state), (std::vector<int32_t>{0, 1, 2}));
}

}  // namespace
}  // namespace paramd
