// The trainer loop: lease a shard, train on it minibatch by minibatch
// through the parameter servers, report it done, repeat until the job ends.
#ifndef PARAMD_WORKER_TRAINER_H_
#define PARAMD_WORKER_TRAINER_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "paramd/v1/coordinator.pb.h"
#include "worker/coordinator_client.h"
#include "worker/models/model.h"
#include "worker/ps_client.h"

namespace paramd {

// Run() is called from one thread; progress() from any.
class Trainer {
 public:
  Trainer(const JobConfig& job, const Model* model, PsClient* ps,
          CoordinatorClient* coordinator, uint64_t worker_id,
          const std::atomic<bool>* stop);

  // Trains until the coordinator says the job is done (returns OK) or *stop
  // (returns Cancelled). Fails on a permanent RPC error or bad data.
  absl::Status Run();

  // Examples trained and their summed loss so far.
  Progress progress() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status TrainShard(const paramd::v1::Lease& lease);
  absl::Status TrainBatch(const Dataset& data, int64_t begin, int64_t end,
                          BatchStats* stats);

  const JobConfig& job_;
  const Model* const model_;              // Not owned.
  PsClient* const ps_;                    // Not owned.
  CoordinatorClient* const coordinator_;  // Not owned.
  const uint64_t worker_id_;
  const std::atomic<bool>* const stop_;
  int64_t clock_ = 0;
  bool in_barrier_ = false;
  mutable absl::Mutex mu_;
  Progress progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramd

#endif  // PARAMD_WORKER_TRAINER_H_
