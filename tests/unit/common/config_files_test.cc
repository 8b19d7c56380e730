// Loads every malformed config in tests/testdata/config/ (and a few made
// here: a binary file, a folder, a missing file, an oversized file) and checks
// that each is refused with "<file>:<line>: <field>: <what is wrong>".
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;

// Relative to the repository root, where ctest runs the tests.
constexpr char kDir[] = "tests/testdata/config";

struct BadConfig {
  const char* file;    // in kDir
  int line;            // 1-based line the message names
  const char* field;   // the field path it names
  const char* reason;  // a phrase of what is wrong
};

// Every file in kDir. Most are small variants of config/spam-logreg.yaml, and
// each but empty.yaml says in its first line what is wrong with it.
constexpr BadConfig kBadConfigs[] = {
    // Bad types.
    {"string_for_integer.yaml", 6, "job.batch_size",
     "expected an integer, got 'thirty-two'"},
    {"fraction_for_integer.yaml", 5, "job.epochs",
     "expected an integer, got '2.5'"},
    {"string_for_number.yaml", 22, "optimizer.learning_rate",
     "expected a number, got 'fast'"},
    {"string_for_boolean.yaml", 6, "job.shuffle",
     "expected a boolean (true or false), got 'sometimes'"},
    {"list_for_map.yaml", 10, "cluster", "expected a map, got a list"},
    {"list_for_string.yaml", 15, "data.train", "expected a string, got a list"},
    {"map_for_string.yaml", 28, "tables[1].name",
     "expected a string, got a map"},
    {"map_for_list.yaml", 25, "tables", "must be a non-empty list, got a map"},
    {"scalar_for_shape.yaml", 30, "tables[1].shape",
     "expected a list of integers, got '1'"},
    // Missing required fields: the line of the map that lacks them.
    {"missing_job.yaml", 2, "job", "is required"},
    {"missing_train.yaml", 14, "data.train", "is required"},
    {"missing_table_name.yaml", 28, "tables[1].name", "is required"},
    {"missing_width.yaml", 25, "tables[0].width", "is required"},
    {"ssp_without_staleness.yaml", 2, "job.staleness", "is required"},
    // Unknown fields and duplicates.
    {"unknown_field.yaml", 20, "optimiser", "unknown field (allowed: "},
    {"unknown_table_field.yaml", 28, "tables[0].widht", "unknown field"},
    {"duplicate_table.yaml", 28, "tables[1].name", "duplicate table 'w'"},
    {"duplicate_key.yaml", 7, "job.epochs", "duplicate key (first on line 5)"},
    {"duplicate_section.yaml", 24, "optimizer",
     "duplicate key (first on line 20)"},
    {"duplicate_flow_key.yaml", 28, "tables[0].init.kind", "duplicate key"},
    // Sizes and shapes.
    {"negative_width.yaml", 27, "tables[0].width",
     "must be positive and at most 1048576, got -4"},
    {"huge_width.yaml", 27, "tables[0].width",
     "must be positive and at most 1048576, got 10000000"},
    {"negative_dimension.yaml", 30, "tables[1].shape[0]",
     "must be positive, got -3"},
    {"zero_dimension.yaml", 30, "tables[1].shape[1]",
     "must be positive, got 0"},
    {"empty_shape.yaml", 30, "tables[1].shape", "must not be empty"},
    {"huge_shape.yaml", 30, "tables[1].shape",
     "[100000, 100000] has more than 2147483648 elements"},
    {"overflow_shape.yaml", 30, "tables[1].shape",
     "has more than 2147483648 elements"},
    {"dimension_overflow.yaml", 30, "tables[1].shape[1]",
     "out of range: expected an integer from -9223372036854775808 to "
     "9223372036854775807, got '99999999999999999999'"},
    // Numbers that do not fit or make no sense.
    {"integer_overflow.yaml", 5, "job.epochs",
     "out of range: expected an integer from -2147483648 to 2147483647, "
     "got '99999999999999999999'"},
    {"int32_overflow.yaml", 12, "cluster.num_workers",
     "out of range: expected an integer from -2147483648 to 2147483647, "
     "got '3000000000'"},
    {"negative_seed.yaml", 28, "tables[0].init.seed",
     "expected a non-negative integer from 0 to 18446744073709551615, "
     "got '-1'"},
    {"nan_learning_rate.yaml", 22, "optimizer.learning_rate",
     "must be a finite number, got '.nan'"},
    {"inf_learning_rate.yaml", 31, "tables[1].optimizer.learning_rate",
     "must be a finite number, got '.inf'"},
    {"zero_learning_rate.yaml", 22, "optimizer.learning_rate",
     "must be a finite number > 0, got 0"},
    // Consistency.
    {"unknown_consistency.yaml", 4, "job.consistency",
     "must be bsp, asp or ssp, got 'eventual'"},
    {"unknown_bad_shards.yaml", 16, "data.bad_shards",
     "must be skip or fail, got 'retry'"},
    // Security: files that belong together, and no secret in the YAML.
    {"security_cert_without_key.yaml", 33, "security.tls_cert",
     "needs tls_key too"},
    {"security_mutual_without_ca.yaml", 35, "security.mutual_tls",
     "needs tls_cert, tls_key and tls_ca"},
    {"security_tokens_without_roles.yaml", 33, "security.tokens",
     "needs worker_token, server_token and admin_token too"},
    {"security_inline_token.yaml", 34, "security.token",
     "unknown field (allowed: "},
    {"staleness_without_ssp.yaml", 5, "job.staleness",
     "applies to consistency: ssp only (this job is bsp)"},
    // Not YAML, or not one map. A syntax error names the key on its line.
    {"tab_indent.yaml", 5, "epochs",
     "not valid YAML: a tab in the indentation"},
    {"unclosed_list.yaml", 30, "shape",
     "not valid YAML: this '[' is never closed in '    shape: [1, 2'"},
    {"two_documents.yaml", 10, "top level", "a second YAML document"},
    {"top_level_list.yaml", 2, "top level",
     "expected a map with job, data, model and tables, got a list"},
    {"top_level_scalar.yaml", 2, "top level",
     "expected a map with job, data, model and tables, got 'spam-logreg'"},
    {"empty.yaml", 1, "top level", "the file is empty"},
    {"comments_only.yaml", 1, "top level", "the file is empty"},
};

// Loads `path` and expects InvalidArgument worded
// "<path>:<line>: <field>: ...<reason>...".
void ExpectRefused(const std::string& path, int line, const std::string& field,
                   const std::string& reason) {
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_FALSE(job.ok()) << path << " was accepted";
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument)
      << job.status();
  const std::string message(job.status().message());
  const std::string prefix = absl::StrCat(path, ":", line, ": ", field, ": ");
  EXPECT_TRUE(absl::StartsWith(message, prefix))
      << "'" << message << "' does not start with '" << prefix << "'";
  EXPECT_TRUE(absl::StrContains(message, reason))
      << "'" << message << "' does not say '" << reason << "'";
}

// A fresh empty folder under the test temp dir.
std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "config_files_test_XXXXXX";
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return dir == nullptr ? "" : std::string(dir);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  ASSERT_TRUE(out) << path;
  out << bytes;
}

TEST(ConfigFilesTest, RefusesEveryBadFile) {
  ASSERT_TRUE(fs::is_directory(kDir))
      << "run from the repository root (ctest does): no " << kDir << " in "
      << fs::current_path();
  for (const BadConfig& bad : kBadConfigs) {
    SCOPED_TRACE(bad.file);
    ExpectRefused(absl::StrCat(kDir, "/", bad.file), bad.line, bad.field,
                  bad.reason);
  }
}

// A new bad file must come with its expected message.
TEST(ConfigFilesTest, EveryFileIsListed) {
  std::set<std::string> listed;
  for (const BadConfig& bad : kBadConfigs) {
    EXPECT_TRUE(listed.insert(bad.file).second) << bad.file << " twice";
  }
  std::set<std::string> present;
  for (const fs::directory_entry& entry : fs::directory_iterator(kDir)) {
    present.insert(entry.path().filename().string());
  }
  for (const std::string& file : present) {
    EXPECT_TRUE(listed.count(file)) << file << " is not in kBadConfigs";
  }
  for (const std::string& file : listed) {
    EXPECT_TRUE(present.count(file)) << file << " is not in " << kDir;
  }
  EXPECT_GE(present.size(), 20u);
}

// From text (as servers and workers get it), the message names the source
// the caller gives.
TEST(ConfigFilesTest, ParseJobConfigNamesTheGivenSource) {
  std::ifstream in(absl::StrCat(kDir, "/duplicate_key.yaml"));
  ASSERT_TRUE(in);
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  absl::StatusOr<JobConfig> job =
      ParseJobConfig(text, "coordinator config", "");
  ASSERT_FALSE(job.ok());
  EXPECT_TRUE(absl::StartsWith(job.status().message(),
                               "coordinator config:7: job.epochs: duplicate"))
      << job.status();
}

TEST(ConfigFilesTest, RefusesBinaryFile) {
  // A PNG header (its first NUL is on line 3), then random bytes.
  std::string bytes("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  std::mt19937 random(42);
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(random()));
  const std::string path = MakeTempDir() + "/image.yaml";
  WriteFile(path, bytes);
  ExpectRefused(path, 3, "top level", "binary data (a NUL byte)");
}

TEST(ConfigFilesTest, RefusesDirectory) {
  const std::string dir = MakeTempDir();
  absl::StatusOr<JobConfig> job = LoadJobConfig(dir);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(),
            absl::StrCat(dir, ": is a directory, not a config file"));
}

TEST(ConfigFilesTest, RefusesMissingFile) {
  const std::string path = MakeTempDir() + "/no-such.yaml";
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      job.status().message(),
      absl::StrCat(path, ": cannot open config: No such file or directory"));
}

TEST(ConfigFilesTest, RefusesFileOverOneMebibyte) {
  const std::string path = MakeTempDir() + "/huge.yaml";
  WriteFile(path, std::string((1 << 20) + 1, '#'));
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(),
            absl::StrCat(path, ": larger than 1 MiB, not a config file"));
}

TEST(ConfigFilesTest, RefusesDeepNestingWithoutCrashing) {
  const std::string yaml = absl::StrCat("job: ", std::string(100000, '['));
  absl::StatusOr<JobConfig> job = ParseJobConfig(yaml, "deep.yaml", "");
  ASSERT_FALSE(job.ok());
  EXPECT_TRUE(absl::StartsWith(job.status().message(), "deep.yaml:1: job: "))
      << job.status();
}

}  // namespace
}  // namespace paramd
