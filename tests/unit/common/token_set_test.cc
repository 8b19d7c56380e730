#include "common/token_set.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

constexpr char kWorker[] = "w0rker-token-0123456789abcdef";
constexpr char kAdmin[] = "adm1n-token-0123456789abcdef";

std::string WriteList(const std::string& text) {
  // One file per test: ctest runs the tests of this file in parallel.
  const std::string path = absl::StrCat(
      ::testing::TempDir(), "/tokens-",
      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::ofstream(path) << text;
  return path;
}

TEST(TokenSetTest, FindsEachTokensRole) {
  auto set = TokenSet::Load(
      WriteList(absl::StrCat("# comment\n\nworker ", kWorker, "\n  admin\t",
                             kAdmin, "  expires=2100-01-01T00:00:00Z\n")));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->size(), 2);
  EXPECT_EQ(set->Find(kWorker, absl::Now()).value(), Role::kWorker);
  EXPECT_EQ(set->Find(kAdmin, absl::Now()).value(), Role::kAdmin);
}

TEST(TokenSetTest, RefusesUnknownAndExpiredTokens) {
  auto set = TokenSet::Load(WriteList(
      absl::StrCat("worker ", kWorker, " expires=2026-01-01T00:00:00Z\n")));
  ASSERT_TRUE(set.ok()) << set.status();
  const absl::Time before =
      absl::FromCivil(absl::CivilDay(2025, 12, 31), absl::UTCTimeZone());
  EXPECT_TRUE(set->Find(kWorker, before).ok());
  absl::StatusOr<Role> expired = set->Find(kWorker, absl::Now());
  EXPECT_TRUE(absl::IsUnauthenticated(expired.status()));
  EXPECT_TRUE(absl::StrContains(expired.status().message(),
                                "expired at 2026-01-01T00:00:00"));
  // A prefix, a longer string and another token are all unknown.
  for (const std::string& wrong :
       {std::string(kWorker).substr(0, 20), std::string(kWorker) + "x",
        std::string(kAdmin), std::string()}) {
    absl::StatusOr<Role> found = set->Find(wrong, before);
    EXPECT_TRUE(absl::IsUnauthenticated(found.status())) << wrong;
  }
}

TEST(TokenSetTest, BadLinesAreNamedWithoutRepeatingTheToken) {
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {absl::StrCat("wroker ", kWorker, "\n"),
       ":1: the first field is not a role"},
      {absl::StrCat(kWorker, " worker\n"), ":1: the first field is not a role"},
      {"worker short\n", ":1: token shorter than 16 bytes"},
      {absl::StrCat("\nworker ", kWorker, " expires=tomorrow\n"),
       ":2: expires: not an RFC 3339 time"},
      {absl::StrCat("worker ", kWorker, " 2030-01-01\n"),
       ":1: expected \"expires=<RFC 3339 time>\""},
      {absl::StrCat("worker ", kWorker, "\nadmin ", kWorker, "\n"),
       ":2: the same token is listed twice"},
      {absl::StrCat(kWorker, "\n"), ":1: expected \"<role> <token>"},
  };
  for (const Case& c : cases) {
    const std::string path = WriteList(c.text);
    absl::StatusOr<TokenSet> set = TokenSet::Load(path);
    ASSERT_FALSE(set.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(set.status()));
    EXPECT_TRUE(absl::StartsWith(set.status().message(), path + c.error))
        << set.status();
    EXPECT_FALSE(absl::StrContains(set.status().message(), kWorker))
        << set.status();
  }
}

TEST(TokenSetTest, AMissingFileIsNotFound) {
  absl::StatusOr<TokenSet> set = TokenSet::Load("/nonexistent/tokens");
  EXPECT_TRUE(absl::IsNotFound(set.status())) << set.status();
  EXPECT_TRUE(absl::StrContains(set.status().message(), "/nonexistent/tokens"));
}

}  // namespace
}  // namespace paramd
