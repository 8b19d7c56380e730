// The README's "train on your own data" walk-through, as a user types it:
// a raw text file becomes token shards and a job (`paramctl data text`),
// trains on a local cluster (`paramctl launch`), and the saved model scores
// held-out text (`paramctl score`, matching the evaluator) and writes text
// (`paramctl generate`, the same for the same seed).
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::ReadFileOrEmpty;
using ::paramd::testing::RunParamctl;

// A story with structure a small model learns: subject, verb, object.
std::string Story() {
  const std::vector<std::string> subjects = {"The cat", "A dog", "The bird",
                                             "My friend"};
  const std::vector<std::string> verbs = {"sees", "likes", "finds", "follows"};
  const std::vector<std::string> objects = {"the ball", "a red house",
                                            "the old garden", "some bread"};
  std::mt19937 rng(7);
  std::string text;
  for (int paragraph = 0; paragraph < 300; ++paragraph) {
    for (int sentence = 0; sentence < 3; ++sentence) {
      absl::StrAppend(&text, subjects[rng() % 4], " ", verbs[rng() % 4], " ",
                      objects[rng() % 4], ". ");
    }
    text += "\n\n";
  }
  return text;
}

// The number after `"key": ` in `json`, or -1.
double JsonNumber(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  double value = -1;
  if (at == std::string::npos) return value;
  const size_t start = at + key.size() + 4;
  const size_t end = json.find_first_of(",}\n", start);
  if (!absl::SimpleAtod(json.substr(start, end - start), &value)) return -1;
  return value;
}

TEST(OwnDataTest, FromARawTextFileToGeneratedText) {
  const std::string dir =
      std::filesystem::path(::testing::TempDir() + "/own-data")
          .lexically_normal()
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  testing::WriteFileOrDie(dir + "/story.txt", Story());
  std::string output;
  ASSERT_EQ(RunParamctl({"data", "text", "--source=" + dir + "/story.txt",
                         "--out=" + dir + "/data", "--shards=4", "--lowercase"},
                        dir + "/data.log", &output),
            0)
      << output;
  EXPECT_NE(output.find("train it: paramctl launch " + dir + "/data/job.yaml"),
            std::string::npos)
      << output;

  ASSERT_EQ(RunParamctl(
                {"launch", dir + "/data/job.yaml", "--run_dir=" + dir + "/run"},
                dir + "/launch.log", &output),
            0)
      << output;
  const std::string summary = ReadFileOrEmpty(dir + "/run/summary.json");
  const double eval_perplexity = JsonNumber(summary, "eval_perplexity");
  // 17 words and '.': a model of the pattern does far better than uniform.
  EXPECT_GT(eval_perplexity, 1);
  EXPECT_LT(eval_perplexity, 9) << summary;

  // The saved model scores validation as the evaluator did.
  const std::string model = "--model=" + dir + "/run/model";
  ASSERT_EQ(RunParamctl({"score", model, dir + "/data/valid.ids"},
                        dir + "/score.log", &output),
            0)
      << output;
  const size_t at = output.find("perplexity ");
  ASSERT_NE(at, std::string::npos) << output;
  double scored = 0;
  ASSERT_TRUE(absl::SimpleAtod(
      output.substr(at + 11, output.find(',', at) - at - 11), &scored))
      << output;
  EXPECT_NEAR(scored, eval_perplexity, 1e-3 * eval_perplexity) << output;

  // Text, the same for the same seed, from a prompt lowercased as the data.
  std::vector<std::string> texts;
  for (const char* seed : {"--seed=5", "--seed=5", "--seed=6"}) {
    const std::string log =
        absl::StrCat(dir, "/generate", texts.size(), ".log");
    ASSERT_EQ(RunParamctl({"generate", model, "--prompt=The cat", "--tokens=40",
                           "--temperature=0.8", seed},
                          log, &output),
              0)
        << output;
    texts.push_back(output);
  }
  EXPECT_EQ(texts[0], texts[1]);
  EXPECT_NE(texts[0], texts[2]);
  EXPECT_EQ(texts[0].rfind("the cat ", 0), 0u) << texts[0];
  EXPECT_EQ(texts[0].find("<unk>"), std::string::npos) << texts[0];
  const std::vector<std::string> words =
      absl::StrSplit(texts[0], absl::ByAnyChar(" \n"), absl::SkipEmpty());
  EXPECT_GE(words.size(), 20u) << texts[0];  // some are paragraph ends
  const std::string vocab = ReadFileOrEmpty(dir + "/run/model/vocab.txt");
  for (const std::string& word : words) {
    EXPECT_NE(vocab.find(word + "\n"), std::string::npos) << word;
  }

  // Bad input is named.
  EXPECT_EQ(RunParamctl({"generate", model, "--temperature=-1"},
                        dir + "/bad-temperature.log", &output),
            2);
  EXPECT_NE(output.find("--temperature must be 0 or more, got -1"),
            std::string::npos)
      << output;
  EXPECT_EQ(RunParamctl({"score", model, dir + "/data/none.ids"},
                        dir + "/bad-file.log", &output),
            1);
  EXPECT_NE(output.find(dir + "/data/none.ids: cannot open"), std::string::npos)
      << output;
  EXPECT_EQ(RunParamctl({"score", model, dir + "/story.txt"},
                        dir + "/bad-format.log", &output),
            2);
  EXPECT_NE(output.find(dir + "/story.txt:1: "), std::string::npos) << output;
  // A table file that does not hold the job's shape.
  std::filesystem::copy_file(dir + "/run/model/b.npy", dir + "/run/model/d.npy",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(RunParamctl({"score", model, dir + "/data/valid.ids"},
                        dir + "/bad-table.log", &output),
            2);
  EXPECT_NE(output.find("/run/model/d.npy: holds shape ["), std::string::npos)
      << output;
}

}  // namespace
}  // namespace paramd
