#include "tests/cluster/synthetic_data.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace testing {
namespace {

constexpr int kFeatures = 200;
constexpr int kActive = 10;
constexpr double kMargin = 1.0;

std::string Examples(int count, const std::vector<double>& hidden,
                     std::mt19937* rng) {
  std::string text;
  std::vector<int> ids(kFeatures);
  for (int i = 0; i < kFeatures; ++i) ids[i] = i + 1;
  for (int e = 0; e < count;) {
    std::shuffle(ids.begin(), ids.end(), *rng);
    std::vector<int> active(ids.begin(), ids.begin() + kActive);
    std::sort(active.begin(), active.end());
    double score = 0;
    std::string features;
    for (int id : active) {
      score += hidden[id];
      absl::StrAppend(&features, " ", id, ":1");
    }
    if (std::abs(score) < kMargin) continue;  // keep a clear margin
    absl::StrAppend(&text, score > 0 ? 1 : 0, features, "\n");
    ++e;
  }
  return text;
}

}  // namespace

void WriteSeparableData(const std::string& dir, int num_shards, int per_shard,
                        int eval_count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> hidden(kFeatures + 1);
  for (double& w : hidden) w = normal(rng);
  for (int s = 0; s < num_shards; ++s) {
    WriteFileOrDie(absl::StrFormat("%s/train-%05d.svm", dir, s),
                   Examples(per_shard, hidden, &rng));
  }
  WriteFileOrDie(absl::StrCat(dir, "/eval.svm"),
                 Examples(eval_count, hidden, &rng));
}

}  // namespace testing
}  // namespace paramd
