#include "worker/models/model.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "worker/models/logreg.h"
#include "worker/models/nplm.h"

namespace paramd {

uint64_t ShardShuffleSeed(int32_t epoch, int32_t shard) {
  return (static_cast<uint64_t>(epoch) << 32) ^ static_cast<uint32_t>(shard);
}

void Dataset::Shuffle(uint64_t seed) {
  order_.resize(size());
  std::iota(order_.begin(), order_.end(), int64_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(order_.begin(), order_.end(), rng);
}

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const JobConfig& job) {
  if (job.model.type == "logreg") return CreateLogregModel(job);
  if (job.model.type == "nplm") return CreateNplmModel(job);
  return absl::InvalidArgumentError(
      absl::StrCat(job.source, ": model.type: unknown model '", job.model.type,
                   "' (expected logreg or nplm)"));
}

}  // namespace paramd
