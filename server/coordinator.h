// The coordinator's state: parameter servers, workers and their liveness,
// the lease book and the latest metrics. Knows nothing of RPCs; status is
// returned as the plain GetStatusResponse message.
#ifndef PARAMD_SERVER_COORDINATOR_H_
#define PARAMD_SERVER_COORDINATOR_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "paramd/v1/coordinator.pb.h"
#include "server/lease_book.h"

namespace paramd {

// Thread-safe.
class Coordinator {
 public:
  // `config_yaml` is the text the job was parsed from, handed to every
  // daemon; `shards` are the training files in order.
  Coordinator(JobConfig job, std::string config_yaml,
              std::vector<std::string> shards);

  const JobConfig& job() const { return job_; }
  const std::string& config_yaml() const { return config_yaml_; }

  // Assigns `requested` (or, if -1, the lowest free shard) to the server at
  // `address`. A server re-registering its own shard replaces the old
  // address. Fails with ResourceExhausted when every shard is taken and
  // InvalidArgument for a shard out of range.
  absl::StatusOr<int32_t> RegisterServer(const std::string& address,
                                         int32_t requested)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Returns the live trainers.
  std::set<uint64_t> LiveTrainers() ABSL_LOCKS_EXCLUDED(mu_);

  // Registers a worker and returns its id and the server addresses. Fails
  // with Unavailable until every shard has a server, and InvalidArgument
  // for an unknown role.
  absl::StatusOr<uint64_t> RegisterWorker(const std::string& host,
                                          const std::string& role,
                                          std::vector<std::string>* servers)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Notes the worker alive and renews its leases. Fails with NotFound for an
  // unknown worker, which should register again. Sets *done when training is
  // over.
  absl::Status Heartbeat(uint64_t worker, uint64_t examples, double loss_sum,
                         bool* done) ABSL_LOCKS_EXCLUDED(mu_);

  // Leases the next shard to `worker` (see LeaseBook), filling its path.
  absl::StatusOr<LeaseBook::Grant> AcquireShard(uint64_t worker,
                                                LeaseInfo* lease,
                                                std::string* path)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status CompleteShard(uint64_t worker, uint64_t lease_id,
                             uint64_t examples, double loss_sum)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status ReportEval(uint64_t worker,
                          const std::map<std::string, double>& metrics,
                          uint64_t examples_seen, bool final)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Marks workers silent for longer than the lease timeout dead, releasing
  // their leases, and expires overdue leases. Call periodically.
  void Tick() ABSL_LOCKS_EXCLUDED(mu_);

  // The whole job's state.
  paramd::v1::GetStatusResponse Status() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct WorkerEntry {
    std::string host;
    std::string role;
    bool alive = true;
    absl::Time last_seen;
    uint64_t examples = 0;
    double loss_sum = 0;
  };

  absl::Status CheckWorkerLocked(uint64_t worker) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void FillEpochsLocked(paramd::v1::GetStatusResponse* status) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const JobConfig job_;
  const std::string config_yaml_;
  const std::vector<std::string> shards_;
  const absl::Time started_;

  mutable absl::Mutex mu_;
  std::vector<std::string> servers_ ABSL_GUARDED_BY(mu_);  // "" = free
  std::map<uint64_t, WorkerEntry> workers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_worker_id_ ABSL_GUARDED_BY(mu_) = 1;
  LeaseBook book_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> eval_ ABSL_GUARDED_BY(mu_);
  bool eval_final_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_COORDINATOR_H_
