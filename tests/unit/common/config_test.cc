#include "common/config.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;

constexpr char kSource[] = "bad.yaml";

// A small valid job; the error tests each break one field of it.
constexpr char kBase[] = R"(job:
  name: tiny
  epochs: 2
  batch_size: 8
  lease_timeout_s: 10
  heartbeat_interval_s: 1
cluster:
  num_servers: 2
data:
  train: shards/train-*.txt
model:
  type: logreg
tables:
  - name: w
    type: sparse
    width: 4
  - name: b
    type: dense
    shape: [2, 3]
    init: {kind: uniform, scale: 0.1}
)";

// kBase with `from` replaced by `to`. Fails the test if `from` is absent, so
// a test never silently checks the unmodified config.
std::string Mutate(const std::string& from, const std::string& to) {
  const std::string base = kBase;
  EXPECT_TRUE(absl::StrContains(base, from)) << "kBase has no '" << from << "'";
  return absl::StrReplaceAll(base, {{from, to}});
}

// Parses `yaml` and expects InvalidArgument whose message starts with
// "<source>:<line>: " and names every string in `parts` (the field path, the
// bad value...).
void ExpectError(const std::string& yaml,
                 const std::vector<std::string>& parts) {
  absl::StatusOr<JobConfig> job = ParseJobConfig(yaml, kSource, "/base");
  ASSERT_FALSE(job.ok()) << "accepted:\n" << yaml;
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument)
      << job.status();
  const std::string message(job.status().message());
  const std::string prefix = absl::StrCat(kSource, ":");
  EXPECT_TRUE(absl::StartsWith(message, prefix) &&
              message.size() > prefix.size() &&
              absl::ascii_isdigit(message[prefix.size()]))
      << message;
  for (const std::string& part : parts) {
    EXPECT_TRUE(absl::StrContains(message, part))
        << "'" << message << "' does not name '" << part << "'";
  }
}

// A fresh empty folder under the test temp dir.
std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "config_test_XXXXXX";
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return dir == nullptr ? "" : std::string(dir);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  ASSERT_TRUE(out) << path;
  out << text;
}

TEST(ConfigTest, BaseConfigIsValid) {
  absl::StatusOr<JobConfig> job = ParseJobConfig(kBase, kSource, "/base");
  ASSERT_TRUE(job.ok()) << job.status();
}

TEST(ConfigTest, ParsesEveryField) {
  constexpr char kFull[] = R"(job:
  name: full-job
  consistency: asp
  combine: sum
  epochs: 7
  batch_size: 64
  lease_timeout_s: 30.5
  heartbeat_interval_s: 2.5
  eval_interval_s: 9
cluster:
  num_servers: 3
  num_workers: 5
data:
  train: /abs/train-*.svm
  eval: held/eval.svm
  test: /abs/test.svm
model:
  type: nplm
  context: 3
  embed_dim: 16.5
optimizer:
  kind: adam
  learning_rate: 0.002
  lr_decay: 0.01
  weight_decay: 0.0001
  momentum: 0.5
  initial_accumulator: 0.3
  beta1: 0.8
  beta2: 0.99
  epsilon: 0.000001
tables:
  - name: emb
    type: sparse
    width: 16
    init: {kind: normal, scale: 0.02, seed: 42}
  - name: proj
    type: dense
    shape: [3, 4, 5]
    init: {kind: constant, value: 0.5}
    optimizer:
      kind: momentum
      learning_rate: 0.1
      lr_decay: 0.2
      weight_decay: 0.3
      momentum: 0.7
      initial_accumulator: 0.4
      beta1: 0.6
      beta2: 0.95
      epsilon: 0.001
)";
  absl::StatusOr<JobConfig> parsed = ParseJobConfig(kFull, "full.yaml", "/cfg");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const JobConfig& job = *parsed;
  EXPECT_EQ(job.name, "full-job");
  EXPECT_EQ(job.source, "full.yaml");
  EXPECT_EQ(job.base_dir, "/cfg");
  EXPECT_EQ(job.consistency, Consistency::kAsp);
  EXPECT_FALSE(job.average);
  EXPECT_EQ(job.epochs, 7);
  EXPECT_EQ(job.batch_size, 64);
  EXPECT_DOUBLE_EQ(job.lease_timeout_s, 30.5);
  EXPECT_DOUBLE_EQ(job.heartbeat_interval_s, 2.5);
  EXPECT_DOUBLE_EQ(job.eval_interval_s, 9);
  EXPECT_EQ(job.num_servers, 3);
  EXPECT_EQ(job.num_workers, 5);
  EXPECT_EQ(job.train_glob, "/abs/train-*.svm");
  EXPECT_EQ(job.eval_path, "/cfg/held/eval.svm");
  EXPECT_EQ(job.test_path, "/abs/test.svm");
  EXPECT_EQ(job.model.type, "nplm");
  ASSERT_EQ(job.model.params.size(), 2u);
  EXPECT_DOUBLE_EQ(job.model.params.at("context"), 3);
  EXPECT_DOUBLE_EQ(job.model.params.at("embed_dim"), 16.5);

  ASSERT_EQ(job.tables.size(), 2u);
  const TableConfig& emb = job.tables[0];
  EXPECT_EQ(emb.name, "emb");
  EXPECT_TRUE(emb.sparse);
  EXPECT_EQ(emb.width, 16);
  EXPECT_TRUE(emb.shape.empty());
  EXPECT_EQ(emb.size(), 0);
  EXPECT_EQ(emb.init.kind, "normal");
  EXPECT_DOUBLE_EQ(emb.init.scale, 0.02);
  EXPECT_EQ(emb.init.seed, 42u);
  // No optimizer of its own: every field comes from the job default.
  EXPECT_EQ(emb.optimizer.kind, "adam");
  EXPECT_DOUBLE_EQ(emb.optimizer.learning_rate, 0.002);
  EXPECT_DOUBLE_EQ(emb.optimizer.lr_decay, 0.01);
  EXPECT_DOUBLE_EQ(emb.optimizer.weight_decay, 0.0001);
  EXPECT_DOUBLE_EQ(emb.optimizer.momentum, 0.5);
  EXPECT_DOUBLE_EQ(emb.optimizer.initial_accumulator, 0.3);
  EXPECT_DOUBLE_EQ(emb.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(emb.optimizer.beta2, 0.99);
  EXPECT_DOUBLE_EQ(emb.optimizer.epsilon, 0.000001);

  const TableConfig& proj = job.tables[1];
  EXPECT_EQ(proj.name, "proj");
  EXPECT_FALSE(proj.sparse);
  EXPECT_EQ(proj.shape, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(proj.size(), 60);
  EXPECT_EQ(proj.init.kind, "constant");
  EXPECT_DOUBLE_EQ(proj.init.value, 0.5);
  EXPECT_EQ(proj.init.seed, 1u);
  EXPECT_EQ(proj.optimizer.kind, "momentum");
  EXPECT_DOUBLE_EQ(proj.optimizer.learning_rate, 0.1);
  EXPECT_DOUBLE_EQ(proj.optimizer.lr_decay, 0.2);
  EXPECT_DOUBLE_EQ(proj.optimizer.weight_decay, 0.3);
  EXPECT_DOUBLE_EQ(proj.optimizer.momentum, 0.7);
  EXPECT_DOUBLE_EQ(proj.optimizer.initial_accumulator, 0.4);
  EXPECT_DOUBLE_EQ(proj.optimizer.beta1, 0.6);
  EXPECT_DOUBLE_EQ(proj.optimizer.beta2, 0.95);
  EXPECT_DOUBLE_EQ(proj.optimizer.epsilon, 0.001);

  EXPECT_EQ(job.FindTable("proj"), &job.tables[1]);
  EXPECT_EQ(job.FindTable("emb"), &job.tables[0]);
  EXPECT_EQ(job.FindTable("nope"), nullptr);
}

TEST(ConfigTest, AppliesDefaults) {
  constexpr char kMinimal[] = R"(job: {}
data:
  train: train.txt
model:
  type: logreg
tables:
  - name: w
    type: sparse
    width: 1
  - name: b
    shape: [4]
)";
  absl::StatusOr<JobConfig> parsed = ParseJobConfig(kMinimal, "min.yaml", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const JobConfig& job = *parsed;
  EXPECT_EQ(job.name, "");
  EXPECT_EQ(job.consistency, Consistency::kBsp);
  EXPECT_TRUE(job.average);
  EXPECT_EQ(job.epochs, 1);
  EXPECT_EQ(job.batch_size, 32);
  EXPECT_DOUBLE_EQ(job.lease_timeout_s, 10);
  EXPECT_DOUBLE_EQ(job.heartbeat_interval_s, 1);
  EXPECT_DOUBLE_EQ(job.eval_interval_s, 5);
  EXPECT_EQ(job.num_servers, 1);
  EXPECT_EQ(job.num_workers, 1);
  EXPECT_EQ(job.train_glob, "train.txt");  // no base_dir: left relative
  EXPECT_EQ(job.eval_path, "");
  EXPECT_EQ(job.test_path, "");
  EXPECT_TRUE(job.model.params.empty());
  ASSERT_EQ(job.tables.size(), 2u);
  // A table without a type is dense.
  EXPECT_FALSE(job.tables[1].sparse);
  EXPECT_EQ(job.tables[1].size(), 4);
  const OptimizerConfig defaults;
  for (const TableConfig& table : job.tables) {
    SCOPED_TRACE(table.name);
    EXPECT_EQ(table.init.kind, "zeros");
    EXPECT_EQ(table.init.seed, 1u);
    EXPECT_DOUBLE_EQ(table.init.scale, 0);
    EXPECT_EQ(table.optimizer.kind, "sgd");
    EXPECT_DOUBLE_EQ(table.optimizer.learning_rate, defaults.learning_rate);
    EXPECT_DOUBLE_EQ(table.optimizer.learning_rate, 0.01);
    EXPECT_DOUBLE_EQ(table.optimizer.weight_decay, 0);
    EXPECT_DOUBLE_EQ(table.optimizer.lr_decay, 0);
  }
}

TEST(ConfigTest, ResolvesRelativePathsAgainstBaseDir) {
  constexpr char kYaml[] = R"(job: {}
data:
  train: shards/train-*.txt
  eval: ../held/eval.txt
  test: /abs/test.txt
model: {type: logreg}
tables: [{name: w, type: sparse, width: 1}]
)";
  absl::StatusOr<JobConfig> job = ParseJobConfig(kYaml, "x.yaml", "/base/dir");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->train_glob, "/base/dir/shards/train-*.txt");
  EXPECT_EQ(job->eval_path, "/base/held/eval.txt");
  EXPECT_EQ(job->test_path, "/abs/test.txt");

  absl::StatusOr<JobConfig> no_base = ParseJobConfig(kYaml, "x.yaml", "");
  ASSERT_TRUE(no_base.ok()) << no_base.status();
  EXPECT_EQ(no_base->train_glob, "shards/train-*.txt");
  EXPECT_EQ(no_base->eval_path, "../held/eval.txt");
}

TEST(ConfigTest, TablesInheritDefaultOptimizerAndOverrideFields) {
  constexpr char kYaml[] = R"(job: {}
data: {train: t}
model: {type: logreg}
optimizer:
  kind: adagrad
  learning_rate: 0.2
  initial_accumulator: 0.1
tables:
  - name: inherits
    type: sparse
    width: 1
  - name: overrides_lr
    shape: [1]
    optimizer: {learning_rate: 0.5}
  - name: overrides_kind
    shape: [1]
    optimizer: {kind: adam, beta1: 0.5}
)";
  absl::StatusOr<JobConfig> job = ParseJobConfig(kYaml, "opt.yaml", "");
  ASSERT_TRUE(job.ok()) << job.status();
  const TableConfig* inherits = job->FindTable("inherits");
  const TableConfig* lr = job->FindTable("overrides_lr");
  const TableConfig* kind = job->FindTable("overrides_kind");
  ASSERT_NE(inherits, nullptr);
  ASSERT_NE(lr, nullptr);
  ASSERT_NE(kind, nullptr);

  EXPECT_EQ(inherits->optimizer.kind, "adagrad");
  EXPECT_DOUBLE_EQ(inherits->optimizer.learning_rate, 0.2);
  EXPECT_DOUBLE_EQ(inherits->optimizer.initial_accumulator, 0.1);

  EXPECT_EQ(lr->optimizer.kind, "adagrad");
  EXPECT_DOUBLE_EQ(lr->optimizer.learning_rate, 0.5);
  EXPECT_DOUBLE_EQ(lr->optimizer.initial_accumulator, 0.1);

  EXPECT_EQ(kind->optimizer.kind, "adam");
  EXPECT_DOUBLE_EQ(kind->optimizer.learning_rate, 0.2);
  EXPECT_DOUBLE_EQ(kind->optimizer.beta1, 0.5);
  EXPECT_DOUBLE_EQ(kind->optimizer.beta2, 0.999);
}

TEST(ConfigTest, LoadJobConfigResolvesAgainstTheFilesFolder) {
  const std::string dir = MakeTempDir();
  ASSERT_FALSE(dir.empty());
  const std::string path = dir + "/job.yaml";
  WriteFile(path, kBase);
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->source, path);
  EXPECT_EQ(fs::path(job->base_dir), fs::path(dir));
  EXPECT_EQ(job->train_glob, dir + "/shards/train-*.txt");
  EXPECT_EQ(job->name, "tiny");
  EXPECT_EQ(job->tables.size(), 2u);
}

TEST(ConfigTest, LoadJobConfigReportsMissingFile) {
  const std::string path = MakeTempDir() + "/missing.yaml";
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound) << job.status();
  EXPECT_TRUE(absl::StrContains(job.status().message(), path)) << job.status();
}

TEST(ConfigTest, LoadJobConfigNamesTheFileInErrors) {
  const std::string path = MakeTempDir() + "/broken.yaml";
  WriteFile(path, Mutate("epochs: 2", "epochs: 0"));
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_FALSE(job.ok());
  EXPECT_TRUE(
      absl::StartsWith(job.status().message(), path + ":3: job.epochs: "))
      << job.status();
}

TEST(ConfigTest, RejectsTextThatIsNotYaml) {
  ExpectError("job: [unclosed\ndata: {", {"YAML"});
}

TEST(ConfigTest, RejectsYamlThatIsNotAMap) {
  ExpectError("just a sentence", {"map"});
  ExpectError("- a\n- b\n", {"map"});
}

TEST(ConfigTest, RejectsMissingJob) {
  ExpectError(R"(data: {train: t}
model: {type: logreg}
tables: [{name: w, shape: [1]}]
)",
              {"job", "required"});
}

TEST(ConfigTest, RejectsMissingData) {
  ExpectError(R"(job: {}
model: {type: logreg}
tables: [{name: w, shape: [1]}]
)",
              {"data", "required"});
}

TEST(ConfigTest, RejectsMissingTrainGlob) {
  ExpectError(Mutate("  train: shards/train-*.txt\n", "  eval: e.txt\n"),
              {"data.train", "required"});
}

TEST(ConfigTest, RejectsMissingModel) {
  ExpectError(R"(job: {}
data: {train: t}
tables: [{name: w, shape: [1]}]
)",
              {"model", "required"});
}

TEST(ConfigTest, RejectsModelWithoutType) {
  ExpectError(Mutate("  type: logreg\n", "  context: 3\n"),
              {"model.type", "required"});
}

TEST(ConfigTest, RejectsMissingTables) {
  ExpectError(R"(job: {}
data: {train: t}
model: {type: logreg}
)",
              {"tables", "required"});
}

TEST(ConfigTest, RejectsEmptyTables) {
  ExpectError(R"(job: {}
data: {train: t}
model: {type: logreg}
tables: []
)",
              {"tables", "non-empty"});
}

TEST(ConfigTest, RejectsUnknownTopLevelField) {
  ExpectError(absl::StrCat(kBase, "optimiser:\n  kind: sgd\n"),
              {"optimiser", "unknown field"});
}

TEST(ConfigTest, RejectsUnknownJobField) {
  ExpectError(Mutate("  batch_size: 8", "  batchsize: 8"),
              {"job.batchsize", "unknown field"});
}

TEST(ConfigTest, RejectsUnknownClusterField) {
  ExpectError(Mutate("  num_servers: 2", "  num_server: 2"),
              {"cluster.num_server", "unknown field"});
}

TEST(ConfigTest, RejectsUnknownDataField) {
  ExpectError(Mutate("  train: shards/train-*.txt",
                     "  train: shards/train-*.txt\n  evals: e.txt"),
              {"data.evals", "unknown field"});
}

TEST(ConfigTest, RejectsUnknownTableField) {
  ExpectError(Mutate("    width: 4", "    width: 4\n    widht: 4"),
              {"tables[0].widht", "unknown field"});
}

TEST(ConfigTest, RejectsUnknownInitializerField) {
  ExpectError(
      Mutate("{kind: uniform, scale: 0.1}", "{kind: uniform, scael: 1}"),
      {"tables[1].init.scael", "unknown field"});
}

TEST(ConfigTest, RejectsUnknownOptimizerField) {
  ExpectError(absl::StrCat(kBase, "optimizer: {kind: sgd, learnin_rate: 1}\n"),
              {"optimizer.learnin_rate", "unknown field"});
}

TEST(ConfigTest, RejectsSectionThatIsNotAMap) {
  ExpectError(Mutate("cluster:\n  num_servers: 2\n", "cluster: 2\n"),
              {"cluster", "expected a map"});
}

TEST(ConfigTest, RejectsWrongTypeForInteger) {
  ExpectError(Mutate("epochs: 2", "epochs: \"three\""),
              {"job.epochs", "integer", "three"});
}

TEST(ConfigTest, RejectsFractionalInteger) {
  ExpectError(Mutate("batch_size: 8", "batch_size: 8.5"),
              {"job.batch_size", "integer", "8.5"});
}

TEST(ConfigTest, RejectsWrongTypeForNumber) {
  ExpectError(Mutate("lease_timeout_s: 10", "lease_timeout_s: soon"),
              {"job.lease_timeout_s", "number", "soon"});
}

TEST(ConfigTest, RejectsWrongTypeForShape) {
  ExpectError(Mutate("shape: [2, 3]", "shape: big"),
              {"tables[1].shape", "list of integers"});
}

TEST(ConfigTest, RejectsWrongTypeForModelParam) {
  ExpectError(Mutate("  type: logreg\n", "  type: logreg\n  context: wide\n"),
              {"model.context", "number", "wide"});
}

TEST(ConfigTest, RejectsNegativeSeed) {
  ExpectError(Mutate("{kind: uniform, scale: 0.1}",
                     "{kind: uniform, scale: 0.1, seed: -1}"),
              {"tables[1].init.seed", "non-negative integer"});
}

TEST(ConfigTest, RejectsNonPositiveEpochs) {
  ExpectError(Mutate("epochs: 2", "epochs: 0"), {"job.epochs", "positive"});
  ExpectError(Mutate("epochs: 2", "epochs: -3"), {"job.epochs", "positive"});
}

TEST(ConfigTest, RejectsNonPositiveBatchSize) {
  ExpectError(Mutate("batch_size: 8", "batch_size: 0"),
              {"job.batch_size", "positive"});
  ExpectError(Mutate("batch_size: 8", "batch_size: -1"),
              {"job.batch_size", "positive"});
}

TEST(ConfigTest, RejectsLeaseTimeoutNotLongerThanHeartbeat) {
  ExpectError(Mutate("lease_timeout_s: 10", "lease_timeout_s: 1"),
              {"job.lease_timeout_s", "heartbeat_interval_s"});
  ExpectError(Mutate("lease_timeout_s: 10", "lease_timeout_s: 0.5"),
              {"job.lease_timeout_s", "heartbeat_interval_s"});
}

TEST(ConfigTest, RejectsNonPositiveHeartbeatInterval) {
  ExpectError(Mutate("heartbeat_interval_s: 1", "heartbeat_interval_s: 0"),
              {"job.heartbeat_interval_s", "positive"});
}

TEST(ConfigTest, RejectsNegativeEvalInterval) {
  ExpectError(
      Mutate("  batch_size: 8", "  batch_size: 8\n  eval_interval_s: -1"),
      {"job.eval_interval_s", ">= 0"});
}

TEST(ConfigTest, RejectsUnknownConsistency) {
  ExpectError(Mutate("  name: tiny", "  name: tiny\n  consistency: eventual"),
              {"job.consistency", "eventual"});
}

TEST(ConfigTest, RejectsUnknownCombine) {
  ExpectError(Mutate("  name: tiny", "  name: tiny\n  combine: median"),
              {"job.combine", "median"});
}

TEST(ConfigTest, RejectsTableWithoutName) {
  ExpectError(Mutate("  - name: w\n    type: sparse", "  - type: sparse"),
              {"tables[0].name", "required"});
}

TEST(ConfigTest, RejectsDuplicateTable) {
  ExpectError(Mutate("  - name: b\n", "  - name: w\n"),
              {"tables[1].name", "duplicate", "'w'"});
}

TEST(ConfigTest, RejectsUnknownTableType) {
  ExpectError(Mutate("type: sparse", "type: ragged"),
              {"tables[0].type", "ragged"});
}

TEST(ConfigTest, RejectsSparseTableWithoutWidth) {
  ExpectError(Mutate("    width: 4\n", ""), {"tables[0].width", "required"});
}

TEST(ConfigTest, RejectsSparseTableWithNonPositiveWidth) {
  ExpectError(Mutate("width: 4", "width: 0"), {"tables[0].width", "positive"});
}

TEST(ConfigTest, RejectsDenseTableWithoutShape) {
  ExpectError(Mutate("    shape: [2, 3]\n", ""),
              {"tables[1].shape", "required"});
}

TEST(ConfigTest, RejectsDenseTableWithEmptyShape) {
  ExpectError(Mutate("shape: [2, 3]", "shape: []"),
              {"tables[1].shape", "empty"});
}

TEST(ConfigTest, RejectsDenseTableWithNonPositiveDimension) {
  ExpectError(Mutate("shape: [2, 3]", "shape: [2, 0]"),
              {"tables[1].shape", "positive"});
  ExpectError(Mutate("shape: [2, 3]", "shape: [-2, 3]"),
              {"tables[1].shape", "positive"});
}

TEST(ConfigTest, RejectsUnknownInitializer) {
  ExpectError(Mutate("kind: uniform", "kind: xavier"),
              {"tables[1].init.kind", "xavier"});
}

TEST(ConfigTest, RejectsNegativeInitializerScale) {
  ExpectError(Mutate("scale: 0.1", "scale: -0.1"),
              {"tables[1].init.scale", ">= 0"});
}

TEST(ConfigTest, RejectsUnknownDefaultOptimizerKind) {
  ExpectError(absl::StrCat(kBase, "optimizer: {kind: rmsprop}\n"),
              {"optimizer.kind", "rmsprop"});
}

TEST(ConfigTest, RejectsUnknownTableOptimizerKind) {
  ExpectError(
      Mutate("    width: 4\n", "    width: 4\n    optimizer: {kind: lbfgs}\n"),
      {"tables[0].optimizer.kind", "lbfgs"});
}

TEST(ConfigTest, RejectsNonPositiveLearningRate) {
  ExpectError(absl::StrCat(kBase, "optimizer: {learning_rate: 0}\n"),
              {"optimizer.learning_rate", "> 0"});
  ExpectError(absl::StrCat(kBase, "optimizer: {learning_rate: -0.1}\n"),
              {"optimizer.learning_rate", "> 0"});
  ExpectError(Mutate("    width: 4\n",
                     "    width: 4\n    optimizer: {learning_rate: 0}\n"),
              {"tables[0].optimizer.learning_rate", "> 0"});
}

TEST(ConfigTest, RejectsZeroServers) {
  ExpectError(Mutate("num_servers: 2", "num_servers: 0"),
              {"cluster.num_servers"});
  ExpectError(Mutate("num_servers: 2", "num_servers: -1"),
              {"cluster.num_servers"});
}

TEST(ConfigTest, RejectsZeroWorkers) {
  ExpectError(Mutate("num_servers: 2", "num_servers: 2\n  num_workers: 0"),
              {"cluster.num_workers", "positive"});
}

TEST(ConfigTest, ListTrainShardsReturnsSortedMatches) {
  const std::string dir = MakeTempDir();
  ASSERT_FALSE(dir.empty());
  for (const char* name :
       {"train-00002.txt", "train-00000.txt", "train-00010.txt",
        "train-00001.txt", "eval.txt", "train-00003.tmp"}) {
    WriteFile(dir + "/" + name, "x\n");
  }
  absl::StatusOr<JobConfig> job = ParseJobConfig(
      Mutate("shards/train-*.txt", "train-*.txt"), "j.yaml", dir);
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<std::vector<std::string>> shards = ListTrainShards(*job);
  ASSERT_TRUE(shards.ok()) << shards.status();
  EXPECT_EQ(*shards, (std::vector<std::string>{
                         dir + "/train-00000.txt", dir + "/train-00001.txt",
                         dir + "/train-00002.txt", dir + "/train-00010.txt"}));
}

TEST(ConfigTest, ListTrainShardsWithoutMatchIsNotFoundNamingTheGlob) {
  const std::string dir = MakeTempDir();
  ASSERT_FALSE(dir.empty());
  WriteFile(dir + "/other.txt", "x\n");
  absl::StatusOr<JobConfig> job = ParseJobConfig(kBase, "j.yaml", dir);
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<std::vector<std::string>> shards = ListTrainShards(*job);
  ASSERT_FALSE(shards.ok());
  EXPECT_EQ(shards.status().code(), absl::StatusCode::kNotFound)
      << shards.status();
  const std::string message(shards.status().message());
  EXPECT_TRUE(absl::StrContains(message, dir + "/shards/train-*.txt"))
      << message;
  EXPECT_TRUE(absl::StrContains(message, "j.yaml")) << message;
}

// STYLE: every example config is loaded by a test.
TEST(ConfigTest, EveryExampleConfigLoads) {
  const fs::path folder = "config";
  ASSERT_TRUE(fs::is_directory(folder))
      << "run from the repository root (ctest does): no ./config folder in "
      << fs::current_path();
  int loaded = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".yaml" && ext != ".yml") continue;
    const std::string path = entry.path().string();
    SCOPED_TRACE(path);
    std::ifstream in(path);
    ASSERT_TRUE(in);
    const std::string text((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());

    absl::StatusOr<JobConfig> loaded_job = LoadJobConfig(path);
    ASSERT_TRUE(loaded_job.ok()) << loaded_job.status();
    EXPECT_FALSE(loaded_job->tables.empty());
    EXPECT_FALSE(loaded_job->train_glob.empty());
    // Daemons other than the coordinator parse the text without a folder.
    absl::StatusOr<JobConfig> parsed = ParseJobConfig(text, path, "");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->tables.size(), loaded_job->tables.size());

    // The data may not be prepared; when it is, the glob must match.
    absl::StatusOr<std::vector<std::string>> shards =
        ListTrainShards(*loaded_job);
    if (shards.ok()) {
      EXPECT_FALSE(shards->empty());
    } else {
      EXPECT_EQ(shards.status().code(), absl::StatusCode::kNotFound)
          << shards.status();
    }
    ++loaded;
  }
  EXPECT_GT(loaded, 0) << "no YAML files in config/";
}

}  // namespace
}  // namespace paramd

namespace paramd {
namespace {

TEST(ConfigTest, ParsesSspAndCheckpoints) {
  const std::string yaml =
      Mutate("  epochs: 2\n",
             "  epochs: 2\n  consistency: ssp\n  staleness: 3\n") +
      "checkpoint: {dir: ckpt, every_s: 30, every_steps: 500, keep: 4}\n";
  absl::StatusOr<JobConfig> job = ParseJobConfig(yaml, kSource, "/base");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->consistency, Consistency::kSsp);
  EXPECT_EQ(job->staleness, 3);
  EXPECT_EQ(job->checkpoint.dir, "/base/ckpt");
  EXPECT_EQ(job->checkpoint.every_s, 30);
  EXPECT_EQ(job->checkpoint.every_steps, 500);
  EXPECT_EQ(job->checkpoint.keep, 4);
}

TEST(ConfigTest, RejectsBadSspAndCheckpointFields) {
  ExpectError(Mutate("  epochs: 2\n", "  epochs: 2\n  consistency: ssp\n"),
              {"job.staleness", "required"});
  ExpectError(Mutate("  epochs: 2\n",
                     "  epochs: 2\n  consistency: ssp\n  staleness: -1\n"),
              {"job.staleness", ">= 0"});
  ExpectError(Mutate("  epochs: 2\n", "  epochs: 2\n  staleness: 2\n"),
              {"job.staleness", "ssp only"});
  ExpectError(Mutate("  epochs: 2\n", "  epochs: 2\n  consistency: lazy\n"),
              {"job.consistency", "bsp, asp or ssp"});
  ExpectError(std::string(kBase) + "checkpoint: {every_s: 10}\n",
              {"checkpoint.dir", "required"});
  ExpectError(std::string(kBase) + "checkpoint: {dir: c, keep: 0}\n",
              {"checkpoint.keep"});
  ExpectError(std::string(kBase) + "checkpoint: {dir: c, every_s: -1}\n",
              {"checkpoint.every_s"});
  ExpectError(std::string(kBase) + "checkpoint: {dir: c, when: never}\n",
              {"checkpoint", "when"});
}

}  // namespace
}  // namespace paramd
