#include "tools/model_use.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "tools/text_tokens.h"
#include "worker/models/nplm.h"

namespace paramd {
namespace {

constexpr int64_t kBatch = 512;
constexpr int kMaxTokens = 100000;

// Uniform in [0, 1), the same on every machine (SplitMix64).
double NextUniform(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Draws an id from softmax(logits / temperature), or the first maximum at
// temperature 0; `banned` is never drawn.
int32_t Sample(std::vector<float> logits, double temperature, int32_t banned,
               uint64_t* state) {
  logits[banned] = -std::numeric_limits<float>::infinity();
  const auto max = std::max_element(logits.begin(), logits.end());
  if (temperature <= 0) return static_cast<int32_t>(max - logits.begin());
  std::vector<double> weights(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    sum += weights[i] = std::exp((logits[i] - *max) / temperature);
  }
  double u = NextUniform(state) * sum;
  for (size_t i = 0; i < weights.size(); ++i) {
    if ((u -= weights[i]) < 0 && weights[i] > 0) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(max - logits.begin());  // rounding at the end
}

}  // namespace

absl::StatusOr<FileScore> ScoreFile(const SavedModel& saved,
                                    const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<Dataset> data,
                          saved.model->ReadData(path));
  BatchStats total;
  for (int64_t begin = 0; begin < data->size(); begin += kBatch) {
    const BatchStats stats = saved.model->Compute(
        *data, begin, std::min(data->size(), begin + kBatch), saved.params,
        nullptr);
    total.examples += stats.examples;
    total.loss_sum += stats.loss_sum;
    total.correct += stats.correct;
  }
  FileScore score;
  score.examples = total.examples;
  if (total.examples > 0) {
    score.mean_loss = total.loss_sum / total.examples;
    score.accuracy = static_cast<double>(total.correct) / total.examples;
  }
  score.perplexity = std::exp(score.mean_loss);
  return score;
}

absl::StatusOr<std::string> Generate(const SavedModel& saved,
                                     const GenerateOptions& options) {
  const auto* nplm = dynamic_cast<const NplmModel*>(saved.model.get());
  if (nplm == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("generate needs a language model (nplm); this one is ",
                     saved.job.model.type));
  }
  const int64_t vocab_size = nplm->options().vocab_size;
  if (static_cast<int64_t>(saved.vocab.size()) != vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model's vocab.txt has ", saved.vocab.size(),
        " tokens; the model has ", vocab_size,
        " (its data folder had no vocab.txt when it was exported?)"));
  }
  if (options.tokens < 0 || options.tokens > kMaxTokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tokens must be 0 to ", kMaxTokens, ", got ", options.tokens));
  }
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--temperature must be 0 or more, got ", options.temperature));
  }
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < saved.vocab.size(); ++i) {
    ids.emplace(saved.vocab[i], static_cast<int32_t>(i));
  }
  std::vector<int32_t> tokens;
  for (const std::string& word : Tokenize(options.prompt, saved.lowercase)) {
    auto it = ids.find(word);
    tokens.push_back(it == ids.end() ? 0 : it->second);  // 0 is <unk>
  }
  uint64_t state = options.seed;
  for (int i = 0; i < options.tokens; ++i) {
    tokens.push_back(0);  // the position to predict
    const NplmDataset data(tokens);
    tokens.back() = Sample(nplm->Logits(data, data.size() - 1, saved.params),
                           options.temperature, /*banned=*/0, &state);
  }
  std::string text;
  for (int32_t id : tokens) {
    const std::string& token = saved.vocab[id];
    if (token == "</p>") {
      text += "\n";
    } else if (token == "</d>") {
      text += "\n\n";
    } else {
      if (!text.empty() && text.back() != '\n') text += " ";
      text += token;
    }
  }
  return text;
}

}  // namespace paramd
