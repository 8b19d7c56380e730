#include "tools/text_tokens.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

// The cases prepare_text_test.py checks the Python tokenizer with.
TEST(TokenizeTest, AgreesWithTheSharedCases) {
  std::ifstream in(std::string(PARAMD_SOURCE_DIR) +
                   "/tests/testdata/tokenize_cases.tsv");
  ASSERT_TRUE(in.good());
  int cases = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_EQ(fields.size(), 3u) << line;
    EXPECT_EQ(absl::StrJoin(Tokenize(fields[1], fields[0] == "lower"), " "),
              fields[2])
        << fields[1];
    ++cases;
  }
  EXPECT_GE(cases, 8);
}

TEST(TokenizeTest, NothingButSpaceIsNoToken) {
  EXPECT_TRUE(Tokenize(" \t\r\n\f\v", false).empty());
  EXPECT_TRUE(Tokenize("", true).empty());
}

}  // namespace
}  // namespace paramd
