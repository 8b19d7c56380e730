// The coordinator's state: parameter servers, workers and their liveness,
// the lease book and the latest metrics. Knows nothing of RPCs; status is
// returned as the plain GetStatusResponse message.
#ifndef PARAMD_SERVER_COORDINATOR_H_
#define PARAMD_SERVER_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "paramd/v1/coordinator.pb.h"
#include "server/coordinator_state.h"
#include "server/lease_book.h"
#include "server/recovery.h"
#include "server/worker_registry.h"

namespace paramd {

// Thread-safe.
class Coordinator {
 public:
  // `config_yaml` is the text the job was parsed from, handed to every
  // daemon; `shards` are the training files in order.
  Coordinator(JobConfig job, std::string config_yaml,
              std::vector<std::string> shards);

  // Picks up the job's progress from the newest valid state file in the
  // checkpoint directory, if any (a truncated or corrupted one is logged
  // and the one before it used). Call once, before serving.
  void Restore() ABSL_LOCKS_EXCLUDED(mu_);

  const JobConfig& job() const { return job_; }
  const std::string& config_yaml() const { return config_yaml_; }

  // Assigns `requested` (or, if -1, the lowest free shard) to the server at
  // `address`, a process that just started. A server re-registering its own
  // shard replaces the old address. If the job has made progress, the
  // cluster rolls back (see Recovery). Fails with ResourceExhausted when
  // every shard is taken and InvalidArgument for a shard out of range.
  absl::StatusOr<int32_t> RegisterServer(const std::string& address,
                                         int32_t requested)
      ABSL_LOCKS_EXCLUDED(mu_);

  // A server's heartbeat: records its state and fills what it must do.
  // Fails with InvalidArgument for a shard out of range, and with
  // FailedPrecondition for a server whose shard another process took over.
  absl::Status ServerHeartbeat(const paramd::v1::ServerHeartbeatRequest& report,
                               paramd::v1::ServerHeartbeatResponse* response)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Registers a worker and returns its id and the server addresses. A
  // worker coming back after a coordinator restart passes its old id (kept)
  // and the lease it held (kept if its shard is still open: then *held is
  // left set, else cleared). A registration repeating `request_id` (not 0)
  // of an earlier one returns that one's id and changes nothing. Fails
  // with Unavailable until every shard has a server, and InvalidArgument
  // for an unknown role, an id in use or an id of WorkerRegistry::kMaxWorkerId
  // or more.
  absl::StatusOr<uint64_t> RegisterWorker(const std::string& host,
                                          const std::string& role,
                                          uint64_t old_id, uint64_t request_id,
                                          std::optional<LeaseInfo>* held,
                                          std::vector<std::string>* servers)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Notes the worker alive, renews the leases it holds of `held` and fills
  // the response. Fails with NotFound for an unknown worker, which should
  // register again.
  absl::Status Heartbeat(uint64_t worker, uint64_t examples, double loss_sum,
                         const std::vector<uint64_t>& held,
                         paramd::v1::HeartbeatResponse* response)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Leases the next shard to `worker` (see LeaseBook), filling its path
  // and the servers. Waits (kWait) while the cluster rolls back. A call
  // repeating the worker's latest `request_id` (not 0) gets that call's
  // answer again.
  absl::StatusOr<LeaseBook::Grant> AcquireShard(
      uint64_t worker, uint64_t request_id, LeaseInfo* lease, std::string* path,
      std::vector<std::string>* servers) ABSL_LOCKS_EXCLUDED(mu_);

  // Records the shard of `lease_id` done once it is saved (a repeat of the
  // worker's latest completion is OK and changes nothing). Fails with
  // FailedPrecondition for a lease the worker does not hold, and with
  // Unavailable, recording nothing, when the job progress cannot be saved.
  absl::Status CompleteShard(uint64_t worker, uint64_t lease_id,
                             uint64_t examples, double loss_sum, int64_t clock)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Records the shard of `lease_id` done, and failed: the worker could not
  // read it (`error`, naming the file and line, is shown in status). When
  // it could not open the file at all (`unreadable`) and two or more
  // trainers are live, the shard goes back to the queue instead until a
  // second worker fails to read it too. Fails like CompleteShard.
  absl::Status FailShard(uint64_t worker, uint64_t lease_id,
                         const std::string& error, bool unreadable)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Takes back an unfinished lease.
  absl::Status ReleaseShard(uint64_t worker, uint64_t lease_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status ReportEval(uint64_t worker,
                          const std::map<std::string, double>& metrics,
                          uint64_t examples_seen, bool final)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Orders a checkpoint of every server (see Recovery::Order).
  absl::StatusOr<paramd::v1::CheckpointOrder> Checkpoint()
      ABSL_LOCKS_EXCLUDED(mu_);

  // Marks workers silent for longer than the lease timeout dead, releasing
  // their leases; expires overdue leases; notes a job left with no trainer;
  // starts rollbacks and orders and records checkpoints. Call periodically.
  void Tick() ABSL_LOCKS_EXCLUDED(mu_);

  // The whole job's state.
  paramd::v1::GetStatusResponse Status() ABSL_LOCKS_EXCLUDED(mu_);

  // Why the job failed, or "" (see LeaseBook::failure).
  std::string Failure() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Ends `worker`'s lease `lease_id` with `done` (see LeaseBook::Prepare),
  // recording it only once it is saved. A repeat of the worker's latest
  // finished lease is OK and changes nothing.
  absl::Status FinishLeaseLocked(uint64_t worker, uint64_t lease_id,
                                 paramd::v1::Completion done, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a rollback to the job's progress.
  void RollBackLocked(const Rollback& rollback)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Saves the durable state (see CoordinatorState) as it is, plus the
  // completion `pending` (if not null) not yet recorded in the book: a
  // journaled change, or now and then a whole snapshot (see
  // CoordinatorStateFiles). Fails with Unavailable when it cannot.
  absl::Status PersistLocked(const paramd::v1::Completion* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PersistLocked(nullptr), logging a failure: for changes that a later
  // write covers as well.
  void SaveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The time now. If the coordinator ran nothing for a while before (it was
  // stopped, or starved of CPU), it could not hear heartbeats meanwhile:
  // worker liveness and lease deadlines are moved back by that gap, so
  // silence is judged only over time it could have heard the workers.
  absl::Time NowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why the job waits with no live trainer, from the state now ("" while
  // it does not).
  std::string StalledLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JobConfig job_;
  const std::string config_yaml_;
  const std::vector<std::string> shards_;
  const absl::Time started_;

  mutable absl::Mutex mu_;
  std::vector<std::string> servers_ ABSL_GUARDED_BY(mu_);  // "" = free
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu_);
  LeaseBook book_ ABSL_GUARDED_BY(mu_);
  Recovery recovery_ ABSL_GUARDED_BY(mu_);
  // After a restart, leases are handed out only from then, so workers
  // coming back can reclaim theirs first.
  absl::Time reclaim_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // When the coordinator last ran anything under the lock (see NowLocked).
  absl::Time awake_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  CoordinatorStateFiles state_files_ ABSL_GUARDED_BY(mu_);
  // How many of the book's completions the saved state holds.
  size_t persisted_completions_ ABSL_GUARDED_BY(mu_) = 0;
  // Lease ids below this are covered by the saved state: a restarted
  // coordinator goes on from it.
  uint64_t reserved_lease_ids_ ABSL_GUARDED_BY(mu_) = 0;
  // Why the last state write failed ("" if it did not), and since when
  // writes fail.
  std::string state_error_ ABSL_GUARDED_BY(mu_);
  absl::Time state_failing_since_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> eval_ ABSL_GUARDED_BY(mu_);
  // Workers that could not open a shard, by (epoch, shard).
  std::map<std::pair<int32_t, int32_t>, std::set<uint64_t>> unreadable_
      ABSL_GUARDED_BY(mu_);
  bool eval_final_ ABSL_GUARDED_BY(mu_) = false;
  // StalledLocked() at the last tick, to log when it changes.
  std::string stalled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paramd

#endif  // PARAMD_SERVER_COORDINATOR_H_
