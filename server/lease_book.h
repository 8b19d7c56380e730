// Which data shard each worker trains on: the per-epoch queue, the leases
// with their deadlines, and the ledger of completions. Pure logic: the clock
// is passed in, so tests drive time directly.
#ifndef PARAMD_SERVER_LEASE_BOOK_H_
#define PARAMD_SERVER_LEASE_BOOK_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "paramd/v1/checkpoint.pb.h"
#include "paramd/v1/coordinator.pb.h"

namespace paramd {

struct LeaseInfo {
  uint64_t lease_id = 0;
  uint64_t worker_id = 0;
  int32_t shard = 0;
  int32_t epoch = 0;
  uint64_t generation = 0;  // set by the coordinator
  absl::Time deadline;
};

struct EpochLedger {
  std::vector<int32_t> completions;  // per shard: times completed
  int32_t shards_done = 0;           // shards with completions > 0
  uint64_t examples = 0;
  double loss_sum = 0;
  int32_t failed = 0;  // of shards_done: shards that could not be read
};

// Thread-compatible: the coordinator serialises calls.
//
// Each epoch every shard goes into a queue in order; workers take shards from
// its front as they ask, so consecutive requests from the live workers take
// turns (round-robin). A lease not renewed before its deadline goes back to
// the front of the queue for the next worker that asks. A shard's completion
// counts once per epoch; a late completion of an expired lease is refused.
//
// A shard that failed (see Failed) is, per BadShards, counted done and failed
// in every later epoch without being leased (kSkip), or ends the job
// (kFailJob: failure() says why and no shard is leased again).
class LeaseBook {
 public:
  enum class Grant { kLeased, kWait, kDone, kFailed };
  enum class BadShards { kSkip, kFailJob };

  // Lease ids are below this, so the next id never wraps.
  static constexpr uint64_t kMaxLeaseId = uint64_t{1} << 48;

  LeaseBook(int32_t num_shards, int32_t epochs, absl::Duration timeout,
            BadShards bad_shards = BadShards::kSkip);

  // Gives `worker` the next shard. Returns kWait when every remaining shard
  // of the epoch is leased, kDone after the last epoch, kFailed once the job
  // failed.
  Grant Acquire(uint64_t worker, absl::Time now, LeaseInfo* lease);

  // Extends the leases of `held` that `worker` holds to now + timeout; its
  // other leases keep their deadlines (the worker does not know of them).
  void Renew(uint64_t worker, const std::vector<uint64_t>& held,
             absl::Time now);

  // A shard trained (`examples` and their `loss_sum`, by a worker at
  // `clock`: see paramd.v1.Completion), or one that could not be read
  // (`error` says why; "unreadable" if empty): what Prepare takes.
  static paramd::v1::Completion Completed(uint64_t examples, double loss_sum,
                                          int64_t clock);
  static paramd::v1::Completion Failed(const std::string& error);

  // Ends lease `lease_id` of `worker` with `done`, in two steps for a
  // caller that saves the completion before it counts: Prepare expires
  // lapsed leases and returns `done` as it will be recorded (epoch, shard
  // and worker filled in), changing nothing else, or fails with
  // FailedPrecondition if the lease expired or is not `worker`'s; Commit
  // then records it. Nothing else may change the book in between.
  absl::StatusOr<paramd::v1::Completion> Prepare(uint64_t worker,
                                                 uint64_t lease_id,
                                                 paramd::v1::Completion done,
                                                 absl::Time now);
  void Commit(uint64_t lease_id, const paramd::v1::Completion& done);

  // Gives the shard of `lease_id` back to the front of the queue. Fails with
  // FailedPrecondition if `worker` does not hold it.
  absl::Status Return(uint64_t worker, uint64_t lease_id);

  // Re-creates `held` (same id) for `worker` if its shard is still queued
  // in the current epoch and its id is in [1, kMaxLeaseId); returns whether
  // it did. For a worker that comes
  // back after the coordinator restarted.
  bool Reclaim(uint64_t worker, const LeaseInfo& held, absl::Time now);

  // Starts over from a log of completions (see log()): epoch, ledger and
  // queue follow from it, and no lease is held. Fails with DataLoss naming
  // the first completion that cannot follow the ones before it, and then
  // changes nothing.
  absl::Status Rebuild(const std::vector<paramd::v1::Completion>& log);

  // Returns leases past their deadline to the queue, logging each; returns
  // how many.
  int Expire(absl::Time now);

  // Moves every lease's deadline `by` later.
  void Postpone(absl::Duration by);

  // Drops every lease `worker` holds (it died), returning them to the queue.
  void Release(uint64_t worker);

  // Adds the leases (with the paths of `shards`), the epochs' ledgers and
  // the failed shards to `status`.
  void FillStatus(const std::vector<std::string>& shards, absl::Time now,
                  paramd::v1::GetStatusResponse* status) const;

  int32_t epoch() const { return epoch_; }
  int32_t epochs() const { return epochs_; }
  int32_t num_shards() const { return num_shards_; }
  bool done() const { return epoch_ >= epochs_; }
  // Why the job failed ("" while it has not): a bad shard under kFailJob.
  const std::string& failure() const { return failure_; }
  // Shards left out of the later epochs (kSkip).
  const std::set<int32_t>& skipped() const { return skipped_; }
  // Shards of this epoch neither done nor failed.
  int32_t remaining() const;
  // Leases that lapsed (expired, or their worker died) and were requeued.
  int expired() const { return expired_; }
  const std::map<uint64_t, LeaseInfo>& leases() const { return leases_; }
  const std::vector<EpochLedger>& ledger() const { return ledger_; }
  // Every completion, in order.
  const std::vector<paramd::v1::Completion>& log() const { return log_; }
  uint64_t next_lease_id() const { return next_lease_id_; }
  // After a restart: lease ids and the lapsed count go on from these.
  void Resume(uint64_t next_lease_id, int expired) {
    next_lease_id_ = std::max(next_lease_id_, next_lease_id);
    expired_ = expired;
  }

 private:
  void StartEpoch();
  // Adds a completion of the current epoch to the ledger and the log.
  void Record(const paramd::v1::Completion& done);
  void Requeue(std::map<uint64_t, LeaseInfo>::iterator it);
  // Requeues a lease that lapsed (`why`), logging and counting it.
  void Lapse(std::map<uint64_t, LeaseInfo>::iterator it, const char* why);

  int32_t num_shards_;
  int32_t epochs_;
  absl::Duration timeout_;
  BadShards bad_shards_;
  std::set<int32_t> skipped_;
  std::string failure_;
  int32_t epoch_ = 0;
  uint64_t next_lease_id_ = 1;
  int expired_ = 0;
  std::deque<int32_t> queue_;
  std::map<uint64_t, LeaseInfo> leases_;
  std::vector<EpochLedger> ledger_;
  std::vector<paramd::v1::Completion> log_;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_LEASE_BOOK_H_
