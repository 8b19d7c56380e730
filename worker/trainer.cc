#include "worker/trainer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;
// How long to wait before asking again when every shard is leased.
constexpr absl::Duration kWaitPoll = absl::Milliseconds(100);

}  // namespace

Trainer::Trainer(const JobConfig& job, const Model* model, PsClient* ps,
                 CoordinatorClient* coordinator, uint64_t worker_id,
                 const std::atomic<bool>* stop)
    : job_(job),
      model_(model),
      ps_(ps),
      coordinator_(coordinator),
      worker_id_(worker_id),
      stop_(stop) {}

Progress Trainer::progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

absl::Status Trainer::Run() {
  while (!stop_->load()) {
    PARAMD_ASSIGN_OR_RETURN(v1::AcquireShardResponse grant,
                            coordinator_->Acquire(worker_id_));
    if (grant.state() == v1::AcquireShardResponse::LEASED) {
      PARAMD_RETURN_IF_ERROR(TrainShard(grant.lease()));
      continue;
    }
    // No shard now: step out of the bsp barrier so the others go on.
    if (in_barrier_) {
      PARAMD_RETURN_IF_ERROR(ps_->Leave(clock_));
      in_barrier_ = false;
    }
    if (grant.state() == v1::AcquireShardResponse::DONE) {
      LogInfo("job done");
      return absl::OkStatus();
    }
    absl::SleepFor(kWaitPoll);
  }
  return absl::CancelledError("stopped");
}

absl::Status Trainer::TrainShard(const v1::Lease& lease) {
  LogInfo(absl::StrCat("epoch ", lease.epoch() + 1, ": training shard ",
                       lease.shard(), " (", lease.path(), ")"));
  PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<Dataset> data,
                          model_->ReadData(lease.path()));
  // The same order whichever worker trains the shard.
  if (job_.shuffle)
    data->Shuffle(ShardShuffleSeed(lease.epoch(), lease.shard()));
  BatchStats shard;
  for (int64_t begin = 0; begin < data->size(); begin += job_.batch_size) {
    if (stop_->load()) return absl::CancelledError("stopped mid-shard");
    const int64_t end = std::min(data->size(), begin + job_.batch_size);
    BatchStats stats;
    PARAMD_RETURN_IF_ERROR(TrainBatch(*data, begin, end, &stats));
    shard.examples += stats.examples;
    shard.loss_sum += stats.loss_sum;
  }
  absl::Status done = coordinator_->Complete(worker_id_, lease.lease_id(),
                                             shard.examples, shard.loss_sum);
  if (absl::IsFailedPrecondition(done)) {
    LogWarning(absl::StrCat("shard ", lease.shard(),
                            " not recorded: ", done.message()));
    return absl::OkStatus();
  }
  return done;
}

absl::Status Trainer::TrainBatch(const Dataset& data, int64_t begin,
                                 int64_t end, BatchStats* stats) {
  ParamRequest request;
  model_->Needs(data, begin, end, &request);
  Params params;
  PARAMD_ASSIGN_OR_RETURN(clock_, ps_->Pull(clock_, request, &params));
  in_barrier_ = true;
  Params grads = params.ZerosLike();
  *stats = model_->Compute(data, begin, end, params, &grads);
  absl::StatusOr<int64_t> next = ps_->Push(clock_, grads);
  if (absl::IsFailedPrecondition(next.status())) {
    LogWarning(absl::StrCat("gradient of clock ", clock_,
                            " dropped: ", next.status().message()));
    next = clock_ + 1;
  }
  if (!next.ok()) return next.status();
  clock_ = *next;
  absl::MutexLock lock(&mu_);
  progress_.examples += stats->examples;
  progress_.loss_sum += stats->loss_sum;
  return absl::OkStatus();
}

}  // namespace paramd
