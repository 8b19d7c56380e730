// What a worker knows of the cluster between calls: the generation, the
// servers' addresses and the leases it holds, as its heartbeats last heard,
// plus the lease it is training on (so it can be reclaimed after a
// coordinator restart). Shared by the trainer or evaluator thread and the
// heartbeat thread.
#ifndef PARAMD_WORKER_CLUSTER_VIEW_H_
#define PARAMD_WORKER_CLUSTER_VIEW_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "paramd/v1/coordinator.pb.h"

namespace paramd {

class CoordinatorClient;
class Model;

// Thread-safe.
class ClusterView {
 public:
  ClusterView(uint64_t worker_id, std::vector<std::string> servers);

  // Takes in a heartbeat reply to a request sent at `sent`.
  void Update(absl::Time sent, const paramd::v1::HeartbeatResponse& response)
      ABSL_LOCKS_EXCLUDED(mu_);

  // True if `lease`, granted at `granted`, is gone: the cluster moved to a
  // newer generation, or a heartbeat sent after the grant did not list it.
  bool Revoked(const paramd::v1::Lease& lease, absl::Time granted) const
      ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<std::string> servers() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t worker_id() const { return worker_id_; }

  // The lease being trained, if any.
  void set_held(std::optional<paramd::v1::Lease> lease)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<paramd::v1::Lease> held() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const uint64_t worker_id_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> servers_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> leases_ ABSL_GUARDED_BY(mu_);
  absl::Time heard_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<paramd::v1::Lease> held_ ABSL_GUARDED_BY(mu_);
};

// What the trainer and the evaluator share.
struct WorkerContext {
  const JobConfig* job = nullptr;
  const Model* model = nullptr;
  CoordinatorClient* coordinator = nullptr;
  ClusterView* view = nullptr;
  const std::atomic<bool>* stop = nullptr;
  absl::Duration rpc_timeout = absl::Seconds(30);
  absl::Duration retry_budget = absl::Seconds(120);
};

}  // namespace paramd

#endif  // PARAMD_WORKER_CLUSTER_VIEW_H_
