// The trainer loop: lease a shard, train on it minibatch by minibatch
// through the parameter servers, report it done, repeat until the job ends.
#ifndef PARAMD_WORKER_TRAINER_H_
#define PARAMD_WORKER_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "paramd/v1/coordinator.pb.h"
#include "worker/cluster_view.h"
#include "worker/coordinator_client.h"
#include "worker/models/model.h"
#include "worker/ps_client.h"

namespace paramd {

// Run() is called from one thread; progress() from any.
class Trainer {
 public:
  explicit Trainer(const WorkerContext& context);

  // Trains until the coordinator says the job is done (returns OK) or
  // *stop (gives its lease back, leaves the barrier, returns Cancelled).
  // A lease that is revoked (expired, or a rollback) or whose servers stay
  // unreachable is dropped and training goes on with a new one. Fails on a
  // permanent RPC error or bad data.
  absl::Status Run();

  // Examples trained and their summed loss so far.
  Progress progress() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Trains the shard of `grant`. Returns OK when it is done or dropped.
  absl::Status TrainShard(const paramd::v1::AcquireShardResponse& grant);
  // Reports a shard whose data could not be read (`error`) to the
  // coordinator, which counts it done and failed; returns OK so the worker
  // moves on to the next shard.
  absl::Status FailShard(const paramd::v1::Lease& lease,
                         const absl::Status& error);
  absl::Status TrainBatch(const Dataset& data, int64_t begin, int64_t end,
                          BatchStats* stats);
  // Points the client at `servers` in the lease's generation.
  void Connect(const std::vector<std::string>& servers,
               const paramd::v1::Lease& lease, absl::Time granted);
  // Leaves the barrier if in it.
  absl::Status LeaveBarrier();

  const WorkerContext context_;
  std::unique_ptr<PsClient> ps_;
  int64_t clock_ = 0;
  bool in_barrier_ = false;
  // The lease being trained and when it was granted.
  paramd::v1::Lease lease_;
  absl::Time granted_;
  mutable absl::Mutex mu_;
  Progress progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramd

#endif  // PARAMD_WORKER_TRAINER_H_
