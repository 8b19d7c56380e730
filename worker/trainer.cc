#include "worker/trainer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/worker_metrics.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;
// How long to wait before asking again when every shard is leased.
constexpr absl::Duration kWaitPoll = absl::Milliseconds(100);
// Heartbeat intervals to wait for a restarted coordinator to know us again.
constexpr int kCompleteAttempts = 10;
constexpr absl::Duration kUnreadableBackoff = absl::Seconds(1);

// Failures that end a lease but not the worker: the servers moved to a new
// generation (Aborted), stayed unreachable (Unavailable, DeadlineExceeded),
// or the coordinator forgot us for a moment (NotFound: it restarted).
bool LosesLeaseOnly(const absl::Status& status) {
  return absl::IsAborted(status) || absl::IsUnavailable(status) ||
         absl::IsDeadlineExceeded(status) || absl::IsNotFound(status);
}

}  // namespace

Trainer::Trainer(const WorkerContext& context) : context_(context) {}

Progress Trainer::progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

absl::Status Trainer::LeaveBarrier() {
  if (!in_barrier_ || ps_ == nullptr) return absl::OkStatus();
  in_barrier_ = false;
  return ps_->Leave(clock_);
}

absl::Status Trainer::Run() {
  const uint64_t me = context_.view->worker_id();
  while (!context_.stop->load()) {
    absl::StatusOr<v1::AcquireShardResponse> grant =
        context_.coordinator->Acquire(me);
    if (absl::IsNotFound(grant.status())) {  // re-registering meanwhile
      absl::SleepFor(absl::Seconds(context_.job->heartbeat_interval_s));
      continue;
    }
    PARAMD_RETURN_IF_ERROR(grant.status());
    if (grant->state() == v1::AcquireShardResponse::LEASED) {
      PARAMD_RETURN_IF_ERROR(TrainShard(*grant));
      continue;
    }
    // No shard now: step out of the barrier so the others go on.
    if (absl::Status left = LeaveBarrier(); !left.ok()) {
      LogWarning(absl::StrCat("leaving the barrier: ", left.message()));
    }
    if (grant->state() == v1::AcquireShardResponse::DONE) {
      LogInfo("job done");
      return absl::OkStatus();
    }
    if (grant->state() == v1::AcquireShardResponse::FAILED) {
      LogError(absl::StrCat("the job failed: ", grant->failure()));
      return absl::OkStatus();  // the job's failure, not this worker's
    }
    absl::SleepFor(kWaitPoll);
  }
  (void)LeaveBarrier();
  return absl::CancelledError("stopped");
}

void Trainer::Connect(const std::vector<std::string>& servers,
                      const v1::Lease& lease, absl::Time granted) {
  // Give up retrying a server once the lease is gone or we are stopping.
  auto cancelled = [this, lease, granted] {
    return context_.stop->load() || context_.view->Revoked(lease, granted);
  };
  ps_ = std::make_unique<PsClient>(
      *context_.job, servers, context_.view->worker_id(), context_.rpc_timeout,
      context_.retry_budget, cancelled, lease.generation());
}

absl::Status Trainer::TrainShard(const v1::AcquireShardResponse& grant) {
  lease_ = grant.lease();
  granted_ = absl::Now();
  const v1::Lease& lease = lease_;
  const absl::Time granted = granted_;
  LogInfo(absl::StrCat("epoch ", lease.epoch() + 1, ": training shard ",
                       lease.shard(), " (", lease.path(), ")"));
  // Held from now on, so heartbeats renew it while the shard is read.
  context_.view->set_held(lease);
  absl::StatusOr<std::unique_ptr<Dataset>> read =
      context_.model->ReadData(lease.path());
  if (!read.ok()) {
    context_.view->set_held(std::nullopt);
    return FailShard(lease, read.status());
  }
  std::unique_ptr<Dataset> data = std::move(read).value();
  if (data->skipped_lines() > 0) {
    LogWarning(absl::StrCat(lease.path(), ": ", data->skipped_lines(),
                            " malformed line(s) skipped"));
  }
  // The same order whichever worker trains the shard.
  if (context_.job->shuffle)
    data->Shuffle(ShardShuffleSeed(lease.epoch(), lease.shard()));
  Connect({grant.servers().begin(), grant.servers().end()}, lease, granted);
  BatchStats shard;
  absl::Status status;
  for (int64_t begin = 0; begin < data->size() && status.ok();
       begin += context_.job->batch_size) {
    if (context_.stop->load()) {
      status = absl::CancelledError("stopped mid-shard");
    } else if (context_.view->Revoked(lease, granted)) {
      status = absl::AbortedError("the lease was revoked");
    } else {
      const int64_t end =
          std::min(data->size(), begin + context_.job->batch_size);
      BatchStats stats;
      status = TrainBatch(*data, begin, end, &stats);
      shard.examples += stats.examples;
      shard.loss_sum += stats.loss_sum;
    }
  }
  const uint64_t me = context_.view->worker_id();
  if (status.ok()) {
    // NotFound: the coordinator restarted and has not heard from us again
    // yet; the heartbeat thread re-registers, keeping the lease.
    // Unavailable: it could not save the completion, or cannot be reached.
    // The shard is trained: keep asking rather than train it again.
    for (int attempt = 1;; ++attempt) {
      status = context_.coordinator->Complete(
          me, lease.lease_id(), shard.examples, shard.loss_sum, clock_);
      const bool again =
          (absl::IsNotFound(status) && attempt < kCompleteAttempts) ||
          (absl::IsUnavailable(status) && !context_.stop->load() &&
           !context_.view->Revoked(lease, granted));
      if (!again) break;
      absl::SleepFor(absl::Seconds(context_.job->heartbeat_interval_s));
    }
  }
  context_.view->set_held(std::nullopt);
  if (status.ok()) return status;
  if (absl::IsCancelled(status)) {
    (void)context_.coordinator->Release(me, lease.lease_id());
    return absl::OkStatus();  // Run() sees *stop
  }
  if (!LosesLeaseOnly(status) && !absl::IsFailedPrecondition(status)) {
    return status;
  }
  LogWarning(absl::StrCat("shard ", lease.shard(), " of epoch ",
                          lease.epoch() + 1, " dropped: ", status.message()));
  if (!context_.view->Revoked(lease, granted)) {
    (void)context_.coordinator->Release(me, lease.lease_id());
  }
  // The clock stays: pushes are deduplicated by it (asp), and the servers
  // re-sync it on the next pull (bsp, ssp).
  (void)LeaveBarrier();
  return absl::OkStatus();
}

absl::Status Trainer::FailShard(const v1::Lease& lease,
                                const absl::Status& error) {
  // Bad data is the data's fault, not the worker's: report it and go on.
  LogError(absl::StrCat("shard ", lease.shard(), " of epoch ",
                        lease.epoch() + 1,
                        " cannot be read: ", error.message()));
  // A file that cannot be opened may be this host's fault (a missing
  // mount): the coordinator lets another worker try it first.
  const bool unreadable =
      !absl::IsInvalidArgument(error) && !absl::IsDataLoss(error);
  absl::Status reported = context_.coordinator->FailShard(
      context_.view->worker_id(), lease.lease_id(),
      std::string(error.message()), unreadable);
  if (!reported.ok()) {
    LogWarning(
        absl::StrCat("could not report the bad shard: ", reported.message()));
  }
  // Not at once back for the same shard, which may have been requeued.
  if (unreadable) absl::SleepFor(kUnreadableBackoff);
  return absl::OkStatus();
}

absl::Status Trainer::TrainBatch(const Dataset& data, int64_t begin,
                                 int64_t end, BatchStats* stats) {
  ParamRequest request;
  context_.model->Needs(data, begin, end, &request);
  Params params;
  const absl::Time start = absl::Now();
  PARAMD_ASSIGN_OR_RETURN(clock_, ps_->Pull(clock_, request, &params));
  in_barrier_ = true;
  const absl::Time pulled = absl::Now();
  Params grads = params.ZerosLike();
  *stats = context_.model->Compute(data, begin, end, params, &grads);
  const absl::Time computed = absl::Now();
  // A lease revoked while computing (it expired, or a rollback) must not
  // add this shard's gradients a second time.
  if (context_.view->Revoked(lease_, granted_)) {
    return absl::AbortedError("the lease was revoked");
  }
  // Refused as not due by every server (FailedPrecondition; one refusal
  // beside servers that took the step is repaired by Push): the step was
  // applied nowhere, and the lease is given up (the caller releases it).
  absl::StatusOr<int64_t> next = ps_->Push(clock_, grads);
  if (!next.ok()) return next.status();
  clock_ = *next;
  WorkerMetrics::Get().CountStep(stats->examples, pulled - start,
                                 computed - pulled, absl::Now() - computed);
  absl::MutexLock lock(&mu_);
  progress_.examples += stats->examples;
  progress_.loss_sum += stats->loss_sum;
  return absl::OkStatus();
}

}  // namespace paramd
