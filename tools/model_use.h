// What a user does with a saved model without writing code: score a
// prepared data file (`paramctl score`) and sample text from a language
// model (`paramctl generate`).
#ifndef PARAMD_TOOLS_MODEL_USE_H_
#define PARAMD_TOOLS_MODEL_USE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tools/saved_model.h"

namespace paramd {

struct FileScore {
  int64_t examples = 0;
  double mean_loss = 0;  // nats per example
  double perplexity = 0;
  double accuracy = 0;
};

// Scores every example of `path` (in the model's data format) with `saved`.
// Fails as the model's ReadData() does for a bad file, naming file and line.
absl::StatusOr<FileScore> ScoreFile(const SavedModel& saved,
                                    const std::string& path);

struct GenerateOptions {
  std::string prompt;      // plain text, cut into tokens as the data was
  int tokens = 50;         // how many to sample after it
  double temperature = 1;  // 0: always the likeliest token
  uint64_t seed = 1;       // the same seed gives the same text everywhere
};

// The prompt's tokens then `tokens` sampled ones (never <unk>), joined by
// spaces, with a line break for each </p> and a blank line for each </d>.
// Fails with InvalidArgument unless `saved` is an nplm with a vocabulary
// or if an option is out of range.
absl::StatusOr<std::string> Generate(const SavedModel& saved,
                                     const GenerateOptions& options);

}  // namespace paramd

#endif  // PARAMD_TOOLS_MODEL_USE_H_
