#include "worker/evaluator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace paramd {

std::map<std::string, double> SplitMetrics(const std::string& split,
                                           const BatchStats& stats) {
  const double n = std::max<int64_t>(1, stats.examples);
  const double loss = stats.loss_sum / n;
  return {{split + "_loss", loss},
          {split + "_accuracy", stats.correct / n},
          {split + "_perplexity", std::exp(loss)}};
}

Evaluator::Evaluator(const JobConfig& job, const Model* model, PsClient* ps,
                     CoordinatorClient* coordinator, uint64_t worker_id,
                     const std::atomic<bool>* stop,
                     const std::atomic<bool>* job_done)
    : job_(job),
      model_(model),
      ps_(ps),
      coordinator_(coordinator),
      worker_id_(worker_id),
      stop_(stop),
      job_done_(job_done) {}

absl::StatusOr<BatchStats> Evaluator::Score(const Dataset& data) {
  BatchStats total;
  Params params;
  for (int64_t begin = 0; begin < data.size(); begin += job_.batch_size) {
    const int64_t end = std::min(data.size(), begin + job_.batch_size);
    ParamRequest request;
    model_->Needs(data, begin, end, &request);
    // A negative clock never waits: the evaluator reads what is applied.
    PARAMD_RETURN_IF_ERROR(ps_->Pull(-1, request, &params).status());
    const BatchStats stats = model_->Compute(data, begin, end, params, nullptr);
    total.examples += stats.examples;
    total.loss_sum += stats.loss_sum;
    total.correct += stats.correct;
  }
  return total;
}

absl::Status Evaluator::Report(bool final) {
  PARAMD_ASSIGN_OR_RETURN(auto status, coordinator_->GetStatus());
  PARAMD_ASSIGN_OR_RETURN(BatchStats eval, Score(*eval_));
  std::map<std::string, double> metrics = SplitMetrics("eval", eval);
  if (final && test_ != nullptr) {
    PARAMD_ASSIGN_OR_RETURN(BatchStats test, Score(*test_));
    metrics.merge(SplitMetrics("test", test));
  }
  LogInfo(absl::StrCat(final ? "final " : "", "eval after ",
                       status.examples(), " examples: loss ",
                       metrics["eval_loss"], ", accuracy ",
                       metrics["eval_accuracy"], ", perplexity ",
                       metrics["eval_perplexity"]));
  return coordinator_->ReportEval(worker_id_, metrics, status.examples(),
                                  final);
}

absl::Status Evaluator::Run() {
  if (job_.eval_path.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(job_.source, ": data.eval is needed by the evaluator"));
  }
  PARAMD_ASSIGN_OR_RETURN(eval_, model_->ReadData(job_.eval_path));
  if (!job_.test_path.empty()) {
    PARAMD_ASSIGN_OR_RETURN(test_, model_->ReadData(job_.test_path));
  }
  while (!stop_->load()) {
    const absl::Time next = absl::Now() + absl::Seconds(job_.eval_interval_s);
    if (job_done_->load()) return Report(true);
    PARAMD_RETURN_IF_ERROR(Report(false));
    while (absl::Now() < next && !job_done_->load() && !stop_->load()) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  return absl::CancelledError("stopped");
}

}  // namespace paramd
