#include "common/yaml_reader.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

constexpr char kSource[] = "test.yaml";
constexpr char kExpected[] = "a map of settings";

// Runs `read` on `text` and returns its status.
absl::Status Read(const std::string& text,
                  absl::FunctionRef<absl::Status(const YamlReader&)> read) {
  return YamlReader::ReadDocument(text, kSource, kExpected, read);
}

absl::Status Ignore(const YamlReader&) { return absl::OkStatus(); }

// yaml-cpp 0.7's LoadAll never returns on these (found by config_fuzz).
TEST(YamlReaderTest, StrayCommaIsASyntaxErrorNotAHang) {
  EXPECT_EQ(Read(",", Ignore).message(),
            "test.yaml:1: top level: not valid YAML: unexpected ',' at column "
            "1");
  const absl::Status typo = Read(",ob: {name: x}\n", Ignore);
  EXPECT_EQ(typo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(typo.message().find("test.yaml:1:"), std::string::npos) << typo;
  // After a whole first document.
  const absl::Status after = Read("job: 1\n,\n", Ignore);
  EXPECT_EQ(after.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(after.message().find("test.yaml:"), std::string::npos) << after;
}

TEST(YamlReaderTest, RejectsDocumentsThatAreNotOneMap) {
  EXPECT_EQ(Read("", Ignore).message(),
            "test.yaml:1: top level: the file is empty; expected a map of "
            "settings");
  EXPECT_EQ(Read("- a\n- b\n", Ignore).message(),
            "test.yaml:1: top level: expected a map of settings, got a list");
  EXPECT_EQ(Read("a: 1\n---\nb: 2\n", Ignore).message(),
            "test.yaml:2: top level: a second YAML document (after ---); a "
            "config is one");
  EXPECT_EQ(Read(std::string("a: 1\nb: \0\n", 10), Ignore).message(),
            "test.yaml:2: top level: binary data (a NUL byte), not a YAML "
            "text file");
  const absl::Status unclosed = Read("a: 1\nb: [1, 2\n", Ignore);
  EXPECT_EQ(unclosed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unclosed.message(),
            "test.yaml:2: b: not valid YAML: this '[' is never closed in "
            "'b: [1, 2'");
}

TEST(YamlReaderTest, ReturnsWhatReadReturns) {
  int calls = 0;
  const absl::Status status = Read("a: 1\n", [&](const YamlReader&) {
    ++calls;
    return absl::NotFoundError("from read");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status, absl::NotFoundError("from read"));
}

TEST(YamlReaderTest, TurnsExceptionsIntoInternal) {
  const absl::Status status = Read("a: 1\n", [](const YamlReader&) {
    throw std::runtime_error("boom");
    return absl::OkStatus();
  });
  EXPECT_EQ(status, absl::InternalError("test.yaml: boom"));
}

TEST(YamlReaderTest, ReadsScalarsAndLeavesAbsentFieldsAlone) {
  const absl::Status status = Read(
      "s: text\nd: 2.5\ni: -3\nu: 7\nb: true\nn: ~\n", [](const YamlReader& r) {
        std::string s;
        double d = 0;
        int i = 0;
        int64_t absent = 42;
        uint64_t u = 0;
        bool b = false;
        EXPECT_TRUE(r.Get("s", &s).ok());
        EXPECT_TRUE(r.Get("d", &d).ok());
        EXPECT_TRUE(r.Get("i", &i).ok());
        EXPECT_TRUE(r.Get("u", &u).ok());
        EXPECT_TRUE(r.Get("b", &b).ok());
        EXPECT_TRUE(r.Get("n", &absent).ok());
        EXPECT_TRUE(r.Get("missing", &absent).ok());
        EXPECT_EQ(s, "text");
        EXPECT_EQ(d, 2.5);
        EXPECT_EQ(i, -3);
        EXPECT_EQ(u, 7u);
        EXPECT_TRUE(b);
        EXPECT_EQ(absent, 42);
        EXPECT_TRUE(r.Has("s"));
        EXPECT_FALSE(r.Has("n"));
        EXPECT_FALSE(r.Has("missing"));
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
}

TEST(YamlReaderTest, NamesFileLineAndFieldPathInErrors) {
  const absl::Status status =
      Read("a: 1\nouter:\n  u: -1\n", [](const YamlReader& r) {
        uint64_t u = 0;
        return r.Child("outer").Get("u", &u);
      });
  EXPECT_EQ(status, absl::InvalidArgumentError(
                        "test.yaml:3: outer.u: out of range: expected a "
                        "non-negative integer from 0 to 18446744073709551615, "
                        "got '-1'"));
}

TEST(YamlReaderTest, ErrorsAboutAbsentFieldsPointAtTheMap) {
  const absl::Status status =
      Read("a: 1\nouter:\n  x: 1\n",
           [](const YamlReader& r) { return r.Child("outer").Require("y"); });
  EXPECT_EQ(status,
            absl::InvalidArgumentError("test.yaml:2: outer.y: is required"));
}

TEST(YamlReaderTest, RejectsUnknownAndDuplicateKeys) {
  EXPECT_EQ(
      Read("a: 1\nb: 2\n",
           [](const YamlReader& r) { return r.OnlyKeys({"a"}); }),
      absl::InvalidArgumentError("test.yaml:2: b: unknown field (allowed: a)"));
  EXPECT_EQ(Read("a: 1\nb: 2\na: 3\n",
                 [](const YamlReader& r) { return r.DistinctKeys(); }),
            absl::InvalidArgumentError(
                "test.yaml:3: a: duplicate key (first on line 1)"));
}

TEST(YamlReaderTest, ListsKeysInFileOrder) {
  std::vector<std::string> keys;
  const absl::Status status =
      Read("z: 1\na: 2\nm: 3\n", [&](const YamlReader& r) {
        keys = r.Keys();
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m"}));
}

TEST(YamlReaderTest, ReadsListItemsAsNamedReaders) {
  const absl::Status status =
      Read("items:\n  - name: x\n  - name: 5\n    size: [1, y]\n",
           [](const YamlReader& r) {
             std::vector<YamlReader> items;
             PARAMD_RETURN_IF_ERROR(r.GetList("items", &items));
             EXPECT_EQ(items.size(), 2u);
             std::vector<int64_t> size;
             return items.back().Get("size", &size);
           });
  EXPECT_EQ(status, absl::InvalidArgumentError(
                        "test.yaml:4: items[1].size[1]: expected an integer, "
                        "got 'y'"));
}

TEST(YamlReaderTest, RejectsAnEmptyList) {
  const absl::Status status = Read("items: []\n", [](const YamlReader& r) {
    std::vector<YamlReader> items;
    return r.GetList("items", &items);
  });
  EXPECT_EQ(status,
            absl::InvalidArgumentError(
                "test.yaml:1: items: must be a non-empty list, got []"));
}

}  // namespace
}  // namespace paramd
