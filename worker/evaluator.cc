#include "worker/evaluator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/worker_metrics.h"

namespace paramd {
namespace {

// Examples scored per Compute() call when evaluating.
constexpr int64_t kEvalBatch = 512;
// Heartbeat intervals to wait for a restarted coordinator to know us again.
constexpr int kReportAttempts = 10;

// How far training was when `status` was read: epochs done, with the
// fraction of the current epoch's shards done.
double EpochsDone(const paramd::v1::GetStatusResponse& status) {
  if (status.done() || status.num_shards() <= 0) return status.epoch();
  for (const paramd::v1::EpochStatus& e : status.epochs_status()) {
    if (e.epoch() == status.epoch()) {
      return status.epoch() +
             static_cast<double>(e.shards_done()) / status.num_shards();
    }
  }
  return status.epoch();
}

}  // namespace

std::map<std::string, double> SplitMetrics(const std::string& split,
                                           const BatchStats& stats) {
  const double n = std::max<int64_t>(1, stats.examples);
  const double loss = stats.loss_sum / n;
  return {{split + "_loss", loss},
          {split + "_accuracy", stats.correct / n},
          {split + "_perplexity", std::exp(loss)}};
}

Evaluator::Evaluator(const WorkerContext& context) : context_(context) {}

absl::StatusOr<BatchStats> Evaluator::Score(const Dataset& data) {
  // One pull for the whole data set: a consistent snapshot of the weights,
  // and the dense tables travel once rather than once per minibatch.
  const Model& model = *context_.model;
  ParamRequest request;
  model.Needs(data, 0, data.size(), &request);
  Params params;
  // Servers move when they restart: read from the addresses the view holds
  // now, and stop retrying one as soon as the view names another.
  const std::vector<std::string> servers = context_.view->servers();
  const std::atomic<bool>* stop = context_.stop;
  const ClusterView* view = context_.view;
  PsClient ps(*context_.job, servers, view->worker_id(), context_.rpc_timeout,
              context_.retry_budget, [stop, view, servers] {
                return stop->load() || view->servers() != servers;
              });
  // A negative clock never waits: the evaluator reads what is applied.
  absl::Status pulled = ps.Pull(-1, request, &params).status();
  if (!pulled.ok() && !stop->load() && view->servers() != servers) {
    return absl::AbortedError(absl::StrCat(
        "a parameter server moved while scoring: ", pulled.message()));
  }
  PARAMD_RETURN_IF_ERROR(pulled);
  const int64_t batch = std::max<int64_t>(context_.job->batch_size, kEvalBatch);
  BatchStats total;
  for (int64_t begin = 0; begin < data.size(); begin += batch) {
    const int64_t end = std::min(data.size(), begin + batch);
    const BatchStats stats = model.Compute(data, begin, end, params, nullptr);
    total.examples += stats.examples;
    total.loss_sum += stats.loss_sum;
    total.correct += stats.correct;
  }
  return total;
}

absl::Status Evaluator::Report(const paramd::v1::GetStatusResponse& status,
                               bool final) {
  PARAMD_ASSIGN_OR_RETURN(BatchStats eval, Score(*eval_));
  std::map<std::string, double> metrics = SplitMetrics("eval", eval);
  metrics["epochs_done"] = EpochsDone(status);
  if (final && test_ != nullptr) {
    PARAMD_ASSIGN_OR_RETURN(BatchStats test, Score(*test_));
    metrics.merge(SplitMetrics("test", test));
  }
  // Weights read across a rollback may mix versions: score them again.
  PARAMD_ASSIGN_OR_RETURN(auto after, context_.coordinator->GetStatus());
  if (after.settling() || after.generation() != status.generation()) {
    return absl::AbortedError("the cluster rolled back while scoring");
  }
  LogInfo(absl::StrCat(final ? "final " : "", "eval after ", status.examples(),
                       " examples (", status.epoch(), "/", status.epochs(),
                       " epochs done): loss ", metrics["eval_loss"],
                       ", accuracy ", metrics["eval_accuracy"], ", perplexity ",
                       metrics["eval_perplexity"]));
  SetEvalMetrics(metrics, status.examples());
  // NotFound: the coordinator restarted and the heartbeat thread has not
  // registered us again yet.
  absl::Status reported;
  for (int attempt = 0; attempt < kReportAttempts; ++attempt) {
    reported = context_.coordinator->ReportEval(
        context_.view->worker_id(), metrics, status.examples(), final);
    if (!absl::IsNotFound(reported)) break;
    absl::SleepFor(absl::Seconds(context_.job->heartbeat_interval_s));
  }
  return reported;
}

absl::Status Evaluator::Run() {
  const JobConfig& job = *context_.job;
  if (job.eval_path.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(job.source, ": data.eval is needed by the evaluator"));
  }
  PARAMD_ASSIGN_OR_RETURN(eval_, context_.model->ReadData(job.eval_path));
  if (!job.test_path.empty()) {
    PARAMD_ASSIGN_OR_RETURN(test_, context_.model->ReadData(job.test_path));
  }
  const absl::Duration interval = job.eval_interval_s > 0
                                      ? absl::Seconds(job.eval_interval_s)
                                      : absl::InfiniteDuration();
  absl::Time next = absl::Now();  // the untrained model first
  int32_t evaluated_epoch = 0;
  while (!context_.stop->load()) {
    PARAMD_ASSIGN_OR_RETURN(auto status, context_.coordinator->GetStatus());
    if (!status.failure().empty()) {
      LogError(absl::StrCat("the job failed: ", status.failure()));
      return absl::OkStatus();  // the job's failure, not this worker's
    }
    const bool due = status.done() || absl::Now() >= next ||
                     status.epoch() > evaluated_epoch;
    if (due && !status.settling()) {
      absl::Status reported = Report(status, status.done());
      if (status.done() && !absl::IsAborted(reported)) return reported;
      if (absl::IsAborted(reported)) {
        LogWarning(absl::StrCat("evaluation dropped: ", reported.message()));
      } else {
        PARAMD_RETURN_IF_ERROR(reported);
        evaluated_epoch = status.epoch();
        next = absl::Now() + interval;
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::CancelledError("stopped");
}

}  // namespace paramd
