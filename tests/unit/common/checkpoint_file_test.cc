#include "common/checkpoint_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat(
               "paramd_ckpt_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }
  static std::string Bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  static void Overwrite(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Expects DataLoss naming the file and containing `problem`.
  void ExpectDataLoss(const std::string& path, const std::string& problem) {
    absl::StatusOr<std::string> read = ReadCheckpointFile(path);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss)
        << read.status();
    EXPECT_TRUE(absl::StrContains(read.status().message(), path))
        << read.status();
    EXPECT_TRUE(absl::StrContains(read.status().message(), problem))
        << read.status();
  }

  fs::path dir_;
};

TEST_F(CheckpointFileTest, RoundTripsAndCreatesTheFolder) {
  const std::string payload("shard\0bytes\xff", 12);
  const std::string path = Path("a/b/x.ckpt");
  ASSERT_TRUE(WriteCheckpointFile(path, payload).ok());
  absl::StatusOr<std::string> read = ReadCheckpointFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, payload);
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "a/b")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(CheckpointFileTest, RewriteReplacesTheWholeFile) {
  const std::string path = Path("x.ckpt");
  ASSERT_TRUE(WriteCheckpointFile(path, std::string(1000, 'a')).ok());
  ASSERT_TRUE(WriteCheckpointFile(path, "short").ok());
  EXPECT_EQ(ReadCheckpointFile(path).value_or(""), "short");
}

TEST_F(CheckpointFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadCheckpointFile(Path("none.ckpt")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CheckpointFileTest, HalfWrittenFileIsDetected) {
  const std::string path = Path("x.ckpt");
  ASSERT_TRUE(WriteCheckpointFile(path, std::string(4096, 'p')).ok());
  const std::string bytes = Bytes(path);
  Overwrite(path, bytes.substr(0, bytes.size() / 2));
  ExpectDataLoss(path, "truncated");
  Overwrite(path, bytes.substr(0, 10));  // not even a header
  ExpectDataLoss(path, "truncated");
}

TEST_F(CheckpointFileTest, FlippedByteIsDetected) {
  const std::string path = Path("x.ckpt");
  ASSERT_TRUE(WriteCheckpointFile(path, std::string(4096, 'p')).ok());
  std::string bytes = Bytes(path);
  bytes[bytes.size() - 100] ^= 0x01;
  Overwrite(path, bytes);
  ExpectDataLoss(path, "checksum");
}

TEST_F(CheckpointFileTest, TrailingBytesAndForeignFilesAreDetected) {
  const std::string path = Path("x.ckpt");
  ASSERT_TRUE(WriteCheckpointFile(path, "payload").ok());
  Overwrite(path, Bytes(path) + "extra");
  ExpectDataLoss(path, "trailing");
  Overwrite(path, "this is some other file, long enough for a header");
  ExpectDataLoss(path, "magic");
}

TEST_F(CheckpointFileTest, ListsAndPrunesNumberedFiles) {
  for (int64_t n : {7, 3, 12, 5}) {
    ASSERT_TRUE(WriteCheckpointFile(
                    Path(NumberedFileName("shard-0-v", n, ".ckpt")), "x")
                    .ok());
  }
  // Other names are ignored: another shard, a temporary file, no number.
  ASSERT_TRUE(
      WriteCheckpointFile(Path("shard-1-v000000000009.ckpt"), "x").ok());
  Overwrite(Path("shard-0-v000000000013.ckpt.tmp42"), "half");
  Overwrite(Path("shard-0-vlatest.ckpt"), "x");
  auto files = ListNumberedFiles(dir_.string(), "shard-0-v", ".ckpt");
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].first, 3);
  EXPECT_EQ(files[3].first, 12);
  EXPECT_EQ(files[3].second, Path("shard-0-v000000000012.ckpt"));

  PruneNumberedFiles(dir_.string(), "shard-0-v", ".ckpt", 2);
  files = ListNumberedFiles(dir_.string(), "shard-0-v", ".ckpt");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].first, 7);
  EXPECT_EQ(files[1].first, 12);
  EXPECT_EQ(ListNumberedFiles(dir_.string(), "shard-1-v", ".ckpt").size(), 1u);
  EXPECT_TRUE(ListNumberedFiles(Path("missing"), "shard-0-v", ".ckpt").empty());
}

TEST_F(CheckpointFileTest, RemovesOnlyItsOwnStaleTempFiles) {
  fs::create_directories(dir_);
  const std::string whole = NumberedFileName("shard-0-v", 7, ".ckpt");
  for (const std::string& name : std::vector<std::string>{
           whole, whole + ".tmp123",
           NumberedFileName("shard-0-v", 9, ".ckpt") + ".tmp4",
           NumberedFileName("shard-1-v", 7, ".ckpt") + ".tmp5", "notes.tmp1",
           whole + ".tmpx"}) {
    Overwrite(Path(name), "x");
  }
  EXPECT_EQ(RemoveStaleTempFiles(dir_.string(), "shard-0-v", ".ckpt"), 2);
  EXPECT_TRUE(fs::exists(Path(whole)));
  EXPECT_FALSE(fs::exists(Path(whole + ".tmp123")));
  EXPECT_TRUE(
      fs::exists(Path(NumberedFileName("shard-1-v", 7, ".ckpt") + ".tmp5")))
      << "another shard's";
  EXPECT_TRUE(fs::exists(Path("notes.tmp1")));
  EXPECT_TRUE(fs::exists(Path(whole + ".tmpx")));
}

}  // namespace
}  // namespace paramd
