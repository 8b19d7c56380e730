#include "common/record_log.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace paramd {
namespace {

class RecordLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/record_log_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::string path_;
};

TEST_F(RecordLogTest, RecordsComeBackWholeAndInOrder) {
  const std::vector<std::string> records = {"one", "", std::string(1000, 'x'),
                                            std::string("\0\1\2", 3)};
  {
    auto log = RecordLog::Create(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    for (const std::string& record : records) {
      ASSERT_TRUE((*log)->Append(record).ok());
    }
    EXPECT_EQ((*log)->size_bytes(),
              static_cast<int64_t>(std::filesystem::file_size(path_)));
  }
  auto contents = RecordLog::Read(path_);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->records, records);
  EXPECT_EQ(contents->dropped_bytes, 0);
}

TEST_F(RecordLogTest, AMissingFileHasNoRecords) {
  auto contents = RecordLog::Read(path_);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->records.empty());
}

TEST_F(RecordLogTest, ATornOrDamagedTailIsDroppedAndCounted) {
  {
    auto log = RecordLog::Create(path_);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append("first").ok());
    ASSERT_TRUE((*log)->Append("second").ok());
  }
  const auto whole = std::filesystem::file_size(path_);
  for (const std::string& tail :
       {std::string("\x05\0\0", 3),                     // a torn header
        std::string("\x05\0\0\0\0\0\0\0abc", 11),       // a torn payload
        std::string("\x03\0\0\0\0\0\0\0abc", 11),       // a wrong checksum
        std::string("\xff\xff\xff\x7f\0\0\0\0", 8)}) {  // an absurd length
    std::filesystem::resize_file(path_, whole);
    std::ofstream(path_, std::ios::app | std::ios::binary) << tail;
    auto contents = RecordLog::Read(path_);
    ASSERT_TRUE(contents.ok()) << contents.status();
    EXPECT_EQ(contents->records, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(contents->dropped_bytes, static_cast<int64_t>(tail.size()));
  }
}

TEST_F(RecordLogTest, CreateReplacesAnOldLog) {
  {
    auto log = RecordLog::Create(path_);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append("old").ok());
  }
  auto log = RecordLog::Create(path_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append("new").ok());
  EXPECT_EQ(RecordLog::Read(path_)->records, std::vector<std::string>{"new"});
}

TEST_F(RecordLogTest, CreateInAMissingFolderFailsNamingIt) {
  auto log = RecordLog::Create(dir_ + "/no/such/log");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(log.status().message().find("no/such/log"), std::string::npos)
      << log.status();
}

}  // namespace
}  // namespace paramd
