#include "worker/models/model.h"

#include "absl/strings/str_cat.h"
#include "worker/models/logreg.h"
#include "worker/models/nplm.h"

namespace paramd {

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const JobConfig& job) {
  if (job.model.type == "logreg") return CreateLogregModel(job);
  if (job.model.type == "nplm") return CreateNplmModel(job);
  return absl::InvalidArgumentError(
      absl::StrCat(job.source, ": model.type: unknown model '", job.model.type,
                   "' (expected logreg or nplm)"));
}

}  // namespace paramd
