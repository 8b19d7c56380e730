#include "common/yaml_edit.h"

#include "absl/strings/string_view.h"
#include "common/config.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

// True if `text` holds `part`.
bool Has(absl::string_view text, absl::string_view part) {
  return text.find(part) != absl::string_view::npos;
}

constexpr char kJob[] = R"(# a comment
job: {name: edit, epochs: 2}
data: {train: train-*.svm}
model: {type: logreg}
tables:
  - {name: w, type: sparse, width: 1}
)";

TEST(SetYamlScalarTest, AddsAMissingSectionAndKeepsTheRest) {
  auto text = SetYamlScalar(kJob, "job.yaml", {"checkpoint", "dir"}, "/ck");
  ASSERT_TRUE(text.ok()) << text.status();
  auto job = ParseJobConfig(*text, "edited", "/base");
  ASSERT_TRUE(job.ok()) << job.status() << "\n" << *text;
  EXPECT_EQ(job->checkpoint.dir, "/ck");
  EXPECT_EQ(job->name, "edit");
  EXPECT_EQ(job->epochs, 2);
  EXPECT_EQ(job->train_glob, "/base/train-*.svm");
  ASSERT_EQ(job->tables.size(), 1u);
  EXPECT_EQ(job->tables[0].name, "w");
}

TEST(SetYamlScalarTest, ReplacesAValueAndKeepsItsNeighbours) {
  const std::string yaml =
      std::string(kJob) + "checkpoint:\n  dir: old\n  every_steps: 50\n";
  auto text = SetYamlScalar(yaml, "job.yaml", {"checkpoint", "dir"}, "/new");
  ASSERT_TRUE(text.ok()) << text.status();
  auto job = ParseJobConfig(*text, "edited", "/base");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->checkpoint.dir, "/new");
  EXPECT_EQ(job->checkpoint.every_steps, 50);
}

TEST(SetYamlScalarTest, FillsAnEmptySection) {
  auto text = SetYamlScalar(std::string(kJob) + "checkpoint:\n", "job.yaml",
                            {"checkpoint", "every_s"}, "60");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(Has(*text, "every_s: 60"));
}

TEST(SetYamlScalarTest, RefusesAPathThroughAScalarOrAList) {
  auto scalar = SetYamlScalar(std::string(kJob) + "checkpoint: 3\n", "job.yaml",
                              {"checkpoint", "dir"}, "/ck");
  EXPECT_EQ(scalar.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Has(scalar.status().message(),
                  "job.yaml: cannot set checkpoint.dir: checkpoint is "
                  "not a map"));
  auto list = SetYamlScalar(kJob, "job.yaml", {"tables", "x"}, "1");
  EXPECT_TRUE(Has(list.status().message(), "tables is not a map"));
}

TEST(SetYamlScalarTest, RefusesTextThatIsNotAMap) {
  for (const char* text : {"- 1\n- 2\n", "{unclosed", ""}) {
    auto edited = SetYamlScalar(text, "job.yaml", {"checkpoint", "dir"}, "x");
    EXPECT_EQ(edited.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_TRUE(Has(edited.status().message(), "job.yaml: cannot set"));
  }
}

}  // namespace
}  // namespace paramd
