// The worker's calls to the coordinator, each with a deadline and retries.
#ifndef PARAMD_WORKER_COORDINATOR_CLIENT_H_
#define PARAMD_WORKER_COORDINATOR_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "paramd/v1/coordinator.grpc.pb.h"
#include "worker/cluster_view.h"

namespace paramd {

struct Registration {
  uint64_t worker_id = 0;
  JobConfig job;
  std::vector<std::string> servers;
};

// Cumulative progress a worker reports with each heartbeat.
struct Progress {
  uint64_t examples = 0;
  double loss_sum = 0;
};

// Thread-safe (gRPC stubs are). Calls retry transient failures until they
// succeed, a permanent error comes back, or *stop becomes true.
class CoordinatorClient {
 public:
  CoordinatorClient(const std::string& address, const std::atomic<bool>* stop);

  // Registers, waiting while the parameter servers are not all up. A worker
  // coming back to a restarted coordinator passes its id and the lease it
  // is training (see RegisterWorkerRequest).
  absl::StatusOr<Registration> Register(
      const std::string& host, const std::string& role, uint64_t old_id = 0,
      const std::optional<paramd::v1::Lease>& held = std::nullopt);

  absl::StatusOr<paramd::v1::AcquireShardResponse> Acquire(uint64_t worker);
  absl::Status Complete(uint64_t worker, uint64_t lease_id, uint64_t examples,
                        double loss_sum, int64_t clock);
  absl::Status Release(uint64_t worker, uint64_t lease_id);
  absl::Status FailShard(uint64_t worker, uint64_t lease_id,
                         const std::string& error, bool unreadable);
  absl::StatusOr<paramd::v1::CheckpointResponse> Checkpoint();
  absl::Status ReportEval(uint64_t worker,
                          const std::map<std::string, double>& metrics,
                          uint64_t examples_seen, bool final);
  absl::StatusOr<paramd::v1::GetStatusResponse> GetStatus();

  // Heartbeats every `interval` until *stop (and once more then),
  // reporting progress() and keeping `view` current. If the coordinator
  // forgot the worker (it restarted), registers again as `host`/`role`
  // with the same id and the lease in view->held().
  void RunHeartbeats(ClusterView* view, absl::Duration interval,
                     const std::function<Progress()>& progress,
                     const std::string& host, const std::string& role);

 private:
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (paramd::v1::Coordinator::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response);

  std::unique_ptr<paramd::v1::Coordinator::Stub> stub_;
  const std::atomic<bool>* const stop_;
  std::atomic<uint64_t> acquire_calls_{0};  // request ids of AcquireShard
};

}  // namespace paramd

#endif  // PARAMD_WORKER_COORDINATOR_CLIENT_H_
