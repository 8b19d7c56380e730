#include "worker/models/data_lines.h"

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

std::string Write(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A parser that takes lines of one integer each.
struct IntLines {
  std::vector<int> values;
  absl::Status operator()(absl::string_view line) {
    int value = 0;
    if (!absl::SimpleAtoi(line, &value)) {
      return absl::InvalidArgumentError("not an integer");
    }
    values.push_back(value);
    return absl::OkStatus();
  }
};

absl::Status Read(const std::string& path, bool skip, IntLines* parser,
                  int64_t* skipped) {
  return ReadDataLines(
      path, skip, [parser](absl::string_view line) { return (*parser)(line); },
      skipped);
}

TEST(DataLinesTest, ReadsEveryLineWithOrWithoutAFinalNewline) {
  IntLines parser;
  int64_t skipped = 0;
  ASSERT_TRUE(Read(Write("ok", "1\n2\n3"), false, &parser, &skipped).ok());
  EXPECT_EQ(parser.values, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(skipped, 0);
}

TEST(DataLinesTest, BadInputNamesFileAndLineAndQuotesItEscapedAndCut) {
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const Case cases[] = {
      {"malformed", "1\nx\n", ":2: not an integer in 'x'"},
      {"binary garbage", std::string("1\n\x00\x01\xff\x7f", 6) + "\n",
       ":2: not an integer in '\\x00\\x01\\xff\\x7f'"},
      {"invalid UTF-8", "1\n2\n\xc3\x28\n", ":3: not an integer in '\\xc3('"},
      {"a long line", "1\n" + std::string(100, 'a') + "\n",
       ":2: not an integer in 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaa...'"},
      {"a line over the limit", "1\n" + std::string(kMaxLineBytes + 5, '7'),
       ":2: line longer than 1048576 bytes"},
      {"truncated mid-line", "1\n2\n3x", ":3: not an integer in '3x'"},
  };
  for (const Case& c : cases) {
    IntLines parser;
    int64_t skipped = 0;
    const std::string path = Write("bad", c.bytes);
    absl::Status status = Read(path, false, &parser, &skipped);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_TRUE(absl::StartsWith(status.message(), path)) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), c.message))
        << c.what << ": " << status.message();
  }
}

TEST(DataLinesTest, SkipPolicyCountsBadLinesAndKeepsTheGoodOnes) {
  IntLines parser;
  int64_t skipped = 0;
  const std::string bytes = std::string("1\nx\n\x00\xff\n2\n", 10) +
                            std::string(kMaxLineBytes + 1, 'z') + "\n3\n";
  ASSERT_TRUE(Read(Write("mixed", bytes), true, &parser, &skipped).ok());
  EXPECT_EQ(parser.values, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(skipped, 3);
}

TEST(DataLinesTest, MissingUnreadableAndDirectoryAreNamed) {
  IntLines parser;
  int64_t skipped = 0;
  absl::Status missing =
      Read(::testing::TempDir() + "/no-such-file", true, &parser, &skipped);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_TRUE(absl::StrContains(missing.message(), "no-such-file"));
  // A directory opens but cannot be read.
  absl::Status directory = Read(::testing::TempDir(), true, &parser, &skipped);
  EXPECT_FALSE(directory.ok());
  EXPECT_TRUE(absl::StrContains(directory.message(), ::testing::TempDir()))
      << directory;
}

}  // namespace
}  // namespace paramd
