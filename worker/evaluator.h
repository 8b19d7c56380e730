// The evaluator role: scores the latest weights on held-out data every
// eval_interval_s and at every epoch end, and on the test data once
// training is over.
#ifndef PARAMD_WORKER_EVALUATOR_H_
#define PARAMD_WORKER_EVALUATOR_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/cluster_view.h"
#include "worker/coordinator_client.h"
#include "worker/models/model.h"
#include "worker/ps_client.h"

namespace paramd {

// Metrics of a split under the current weights: "<split>_loss" (mean nats),
// "<split>_accuracy" and "<split>_perplexity".
std::map<std::string, double> SplitMetrics(const std::string& split,
                                           const BatchStats& stats);

// Thread-compatible.
class Evaluator {
 public:
  explicit Evaluator(const WorkerContext& context);

  // Reads the data, then reports at every interval and epoch end until the
  // job is done, then reports the final metrics and returns.
  absl::Status Run();

  // Scores all of `data` with the latest weights from the servers the
  // cluster view names.
  absl::StatusOr<BatchStats> Score(const Dataset& data);

 private:
  // Scores the held-out data (and the test data when `final`) and reports
  // the metrics, stamped with the progress in `status`.
  absl::Status Report(const paramd::v1::GetStatusResponse& status, bool final);

  const WorkerContext context_;
  std::unique_ptr<Dataset> eval_;
  std::unique_ptr<Dataset> test_;  // null when the job names no test data
};

}  // namespace paramd

#endif  // PARAMD_WORKER_EVALUATOR_H_
