// Logistic regression on sparse (hashed) features, read from LIBSVM text.
#ifndef PARAMD_WORKER_MODELS_LOGREG_H_
#define PARAMD_WORKER_MODELS_LOGREG_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/models/model.h"

namespace paramd {

// Tables: "w", sparse of width 1 keyed by feature index; "bias", dense [1].
// p(y = 1 | x) = sigmoid(bias + sum_i w[i] x_i); loss is the log loss.
// Data: one example a line, "label idx:val idx:val ...", label 0/1 or -1/+1,
// idx a non-negative integer. Blank lines and lines starting with '#' are
// skipped.
absl::StatusOr<std::unique_ptr<Model>> CreateLogregModel(const JobConfig& job);

}  // namespace paramd

#endif  // PARAMD_WORKER_MODELS_LOGREG_H_
