// End to end on the shipped Brown slice: the data preparation script, then
// Bengio's NPLM through 2 parameter servers and 2 workers, with an
// evaluator. Validation perplexity must fall far below its near-uniform
// starting value (about |V|).
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/test_cluster.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
using ::paramd::testing::TestClusterOptions;

// Before tests/testdata/brown-slice-nplm.yaml.
constexpr char kConfig[] = R"(
job:
  name: brown-slice-nplm
  consistency: bsp
  epochs: 4
  batch_size: 32
  lease_timeout_s: 20
  heartbeat_interval_s: 0.5
  eval_interval_s: 0
cluster: {num_servers: 2, num_workers: 2}
data:
  train: $DIR/brown/train-*.ids
  eval: $DIR/brown/valid.ids
  test: $DIR/brown/test.ids
)";

// The value of "key": N in the prepared data's meta.json.
int MetaValue(const std::string& meta, const std::string& key) {
  std::smatch match;
  const std::regex pattern("\"" + key + "\": ([0-9]+)");
  return std::regex_search(meta, match, pattern) ? std::stoi(match[1]) : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(TrainNplmTest, ValidationPerplexityFallsFarBelowUniform) {
  // Prepare the slice (6 corpus files shipped in tests/testdata).
  const std::string data = ::testing::TempDir() + "/brown-slice";
  auto prepare = Subprocess::Start(
      {"/usr/bin/python3", "tools/data/prepare_brown.py", "--source",
       "tests/testdata/brown", "--out", data, "--train", "6000", "--valid",
       "2000", "--min-count", "2", "--shards", "4"},
      data + ".log");
  ASSERT_TRUE(prepare.ok()) << prepare.status();
  ASSERT_EQ((*prepare)->Wait(absl::Seconds(60)), 0) << ReadFile(data + ".log");
  const std::string meta = ReadFile(data + "/meta.json");
  const int vocab = MetaValue(meta, "vocab_size");
  const int pad = MetaValue(meta, "pad_id");
  ASSERT_GT(vocab, 100);
  ASSERT_GE(pad, 0);

  TestClusterOptions options;
  options.config_yaml = absl::StrReplaceAll(
      absl::StrCat(kConfig, ReadFile(absl::StrCat(
                                PARAMD_SOURCE_DIR,
                                "/tests/testdata/brown-slice-nplm.yaml"))),
      {{"V,", absl::StrCat(vocab, ",")},
       {"[V]", absl::StrCat("[", vocab, "]")},
       {"PAD", absl::StrCat(pad)},
       {"$DIR/brown", data}});
  options.num_workers = 2;
  options.evaluator = true;
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto status = (*cluster)->WaitForJob(absl::Seconds(240));
  ASSERT_TRUE(status.ok()) << status.status();

  ASSERT_TRUE(status->eval_final());
  const double valid = status->eval().at("eval_perplexity");
  const double test = status->eval().at("test_perplexity");
  // A near-uniform model scores about |V|; training must at least halve it.
  EXPECT_LT(valid, 0.5 * vocab) << "valid perplexity " << valid;
  EXPECT_LT(test, 0.5 * vocab) << "test perplexity " << test;
  EXPECT_GT(valid, 1.0);
  for (const auto& epoch : status->epochs_status()) {
    EXPECT_EQ(epoch.completions(), 4) << "epoch " << epoch.epoch();
    EXPECT_EQ(epoch.examples(), 6000u) << "epoch " << epoch.epoch();
  }
}

}  // namespace
}  // namespace paramd
